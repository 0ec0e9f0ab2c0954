"""The content phase of a play session: after the first content frame, until it closes.

Each loop step draws the time to every competing hazard (stall, seek, pause, ABR
re-evaluation, warning, fatal error) from the current rates, adds the planned
exit or the content's end and the next incident boundary, and lets the nearest
one happen. Exponential draws are memoryless, so redrawing all of them at every
step (and at incident boundaries, where rates change) is exact.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from producers.simulator.rates import (
    ABR_CHECKS_PER_MIN,
    AWAY_MAX_MS,
    AWAY_MIN_MS,
    FATALS_PER_MIN,
    MINUTE,
    P_AWAY,
    P_EXIT_WHILE_PAUSED,
    P_PAUSED_SEEK,
    PAUSE_MAX_MS,
    PAUSES_PER_MIN,
    PLAYBACK_FAILURES,
    SEEKS_PER_MIN_VOD,
    WARNINGS,
    WARNINGS_PER_MIN,
    lognormal_ms,
    uniform_ms,
)

if TYPE_CHECKING:
    from producers.simulator.model import SessionModel

def _completion_probability(duration_ms: int) -> float:
    if duration_ms < 10 * MINUTE:
        return 0.7
    return 0.45 if duration_ms < 70 * MINUTE else 0.3


def watch(m: SessionModel) -> None:
    b, rng, ctx = m.b, m.rng, m.ctx
    title, net = ctx.title, ctx.viewer.network
    duration = title.duration_ms
    exit_at_ts: int | None = None
    target: int | None = None
    if duration is not None:
        if rng.random() < _completion_probability(duration) or b.playhead + 20_000 >= duration:
            target = duration
        else:
            target = max(b.playhead + 20_000, int(duration * rng.uniform(0.05, 0.95)))
            target = min(target, duration - 1)
    else:
        exit_at_ts = b.now + lognormal_ms(rng, 10 * MINUTE, 0.9, 30_000, 3 * 60 * MINUTE)
    b.startup["planned_exit_playhead_ms"] = target
    b.startup["planned_exit_ts"] = exit_at_ts

    while not b.closed:
        assert b.phase == "play" and b.rendition is not None
        now = b.now
        stall_factor, stall_incidents = ctx.schedule.cdn_factor("cdn-stall", ctx.cdn, now)
        error_factor, error_incidents = ctx.schedule.cdn_factor("cdn-error", ctx.cdn, now)
        b.incidents.update(i.name for i in (*stall_incidents, *error_incidents))
        ratio = b.rendition.bitrate_kbps / m.bandwidth
        rates = {
            "stall": net.stalls_per_min * (1 + 6 * max(0.0, ratio - 0.7)) * stall_factor,
            "seek": SEEKS_PER_MIN_VOD if duration is not None else 0.0,
            "pause": PAUSES_PER_MIN[title.content_type],
            "abr": ABR_CHECKS_PER_MIN,
            "warning": WARNINGS_PER_MIN,
            "fatal": FATALS_PER_MIN * error_factor,
        }
        candidates = [(int(rng.expovariate(rate / MINUTE)) + 1, name) for name, rate in rates.items() if rate > 0]
        if target is not None:
            candidates.append((max(0, target - b.playhead), "ended" if target == duration else "exit"))
        if exit_at_ts is not None:
            candidates.append((max(0, exit_at_ts - now), "exit"))
        boundary = ctx.schedule.next_boundary(now)
        if boundary is not None:
            candidates.append((boundary - now, "boundary"))
        delay, action = min(candidates)
        b.wait(delay)
        if action == "stall":
            stall(m, incident_factor=stall_factor)
        elif action == "seek":
            seek(m, from_paused=False)
        elif action == "pause":
            pause(m)
        elif action == "abr":
            abr(m)
        elif action == "warning":
            code, message = rng.choice(WARNINGS)
            b.error(code, message, fatal=False)
        elif action == "fatal":
            fatal(m, error_factor=error_factor, incidents=[i.name for i in error_incidents])
        elif action == "exit":
            m.exit()
        elif action == "ended":
            b.emit("ended")
            b.completed = True
            b.close()
            m.trailing_view_end(0.5)


def fatal(m: SessionModel, *, error_factor: float, incidents: list[str]) -> None:
    b, rng = m.b, m.rng
    # Thinning: of the hazard `base x factor`, the share (factor - 1) / factor is the incident's.
    if error_factor > 1 and rng.random() < (error_factor - 1) / error_factor:
        b.error("SEGMENT_HTTP_5XX", "segment requests failing: HTTP 503", fatal=True,
                cause="incident:" + ",".join(incidents))
    else:
        code, message = rng.choice(PLAYBACK_FAILURES)
        b.error(code, message, fatal=True)
    m.trailing_view_end(0.5)


def stall(m: SessionModel, *, incident_factor: float) -> None:
    """A rebuffering: buffer_start while playing content, then buffer_end (or worse)."""
    b, rng = m.b, m.rng
    net = m.ctx.viewer.network
    b.emit("buffer_start")
    stall_ms = lognormal_ms(rng, 1_800 * (2.0 if net.name == "3g" else 1.0), 0.8, 300, 45_000)
    span = b.begin("stall", info={"planned_ms": stall_ms, "incident_factor": incident_factor})
    m.bandwidth *= rng.uniform(0.3, 0.8)  # the buffer ran dry because the throughput fell
    ending, end_at = "recovered", stall_ms
    if stall_ms > 8_000 and rng.random() < 0.3:
        ending, end_at = "exit", uniform_ms(rng, 5_000, stall_ms)
    elif stall_ms > 15_000 and rng.random() < 0.35:
        ending, end_at = "fatal", uniform_ms(rng, 10_000, stall_ms)
    span.info["ending"] = ending
    t0 = b.now
    lower = m.rung_for(m.bandwidth)
    assert b.rendition is not None
    if lower.bitrate_kbps < b.rendition.bitrate_kbps and rng.random() < 0.7:
        b.wait(uniform_ms(rng, 100, min(end_at - 1, 3_000)))
        b.shift(lower, reason="stall")  # the ABR drops a rung while the buffer is empty
    b.wait(t0 + end_at - b.now)
    if ending == "exit":
        m.exit()
    elif ending == "fatal":
        b.error("NETWORK_TIMEOUT", f"no media received for {end_at // 1000} s", fatal=True)
        m.trailing_view_end(0.5)
    else:
        b.emit("buffer_end")  # rebuffering -> playing (§1)
        if rng.random() < 0.5:
            b.content_playing()  # many players also say `playing`: no change
        else:
            b.begin("play", rendition=b.rendition)


def seek(m: SessionModel, *, from_paused: bool) -> None:
    """seek_start, seek buffering (not rebuffering), seek_end, then playing or paused."""
    b, rng = m.b, m.rng
    duration = m.ctx.title.duration_ms
    assert duration is not None
    here = b.playhead
    if rng.random() < 0.6 and here + 30_000 < duration - 10_000:
        to = min(duration - 10_000, here + uniform_ms(rng, 30_000, 10 * MINUTE))
    else:
        to = max(0, here - uniform_ms(rng, 10_000, 5 * MINUTE))
    latency = lognormal_ms(rng, m.ctx.viewer.network.startup_ms * 0.6, 0.6, 150, 8_000)
    b.emit("seek_start")
    b.begin("seek", from_paused=from_paused, info={"from_ms": here, "to_ms": to, "planned_ms": latency})
    b.playhead = to
    t0 = b.now
    if rng.random() < 0.75:  # the new position is not buffered yet
        b.wait(uniform_ms(rng, 5, 60))
        b.emit("buffer_start")
        b.wait(t0 + latency - uniform_ms(rng, 0, 40) - b.now)
        b.emit("buffer_end")
    b.wait(t0 + latency - b.now)
    b.emit("seek_end")
    if from_paused:
        b.begin("pause")  # seeking that came from paused -> paused (§1)
        return
    b.wait(uniform_ms(rng, 0, 60))
    b.content_playing()  # the seek lasts until playing (§1)


def pause(m: SessionModel) -> None:
    b, rng = m.b, m.rng
    b.emit("pause")
    span = b.begin("pause")
    b.stop_heartbeats()  # heartbeats only while not paused (player-events.md)
    if rng.random() < P_AWAY:
        # The viewer went away; the app closes the session when it comes back. The
        # gap is over 30 minutes, so it belongs to no state (§1).
        span.away = True
        span.info["planned_ms"] = away = uniform_ms(rng, AWAY_MIN_MS, AWAY_MAX_MS)
        b.wait(away)
        m.exit()
        return
    pause_ms = lognormal_ms(rng, 20_000, 1.2, 1_000, PAUSE_MAX_MS)
    span.info["planned_ms"] = pause_ms
    if rng.random() < P_EXIT_WHILE_PAUSED:
        b.wait(pause_ms)
        m.exit()
        return
    t0 = b.now
    resume_latency = uniform_ms(rng, 150, min(1_200, pause_ms // 2))
    resume_at = pause_ms - resume_latency
    if m.ctx.title.duration_ms is not None and rng.random() < P_PAUSED_SEEK:
        b.wait(uniform_ms(rng, pause_ms // 5, pause_ms // 3))
        seek(m, from_paused=True)
        resume_at = max(resume_at, b.now - t0 + 200)
    b.wait(t0 + resume_at - b.now)
    b.emit("play_request", playhead=False)  # a resume: still paused until `playing` (§1)
    b.wait(resume_latency)
    b.content_playing()
    b.restart_heartbeats()


def abr(m: SessionModel) -> None:
    """The throughput drifts (mean-reverting in log space); the ABR follows it with
    hysteresis, as real ones do: down as far as needed once the rendition no longer
    fits, up one rung only when the next one fits with a margin."""
    b, rng = m.b, m.rng
    log_bw = math.log(m.bandwidth)
    m.bandwidth = math.exp(log_bw + 0.3 * (m.log_median_bw - log_bw) + rng.gauss(0.0, 0.3))
    assert b.rendition is not None
    here = m.ladder.index(b.rendition)
    wanted = b.rendition
    if b.rendition.bitrate_kbps > 0.9 * m.bandwidth:
        wanted = m.rung_for(m.bandwidth)
    elif here + 1 < len(m.ladder) and m.ladder[here + 1].bitrate_kbps <= 0.65 * m.bandwidth:
        wanted = m.ladder[here + 1]
    if wanted != b.rendition:
        b.shift(wanted, reason="abr")
