"""The generative model of one play session: decisions first, events second.

`generate_session` walks one viewer through loading a title, starting it (or
failing, or giving up), watching with stalls, seeks, pauses and bitrate shifts,
and leaving. Every decision (how long the startup, each stall, seek and pause;
which errors; which renditions) is drawn here from the seeded RNG and written
into the `SessionBuilder` ledger as spans; the builder makes the events. The
truth (`truth.py`) is read from that ledger, never from the events.

Event sequences follow qoe-metrics.md §1 so that a fold of the events lands on the
spans the model decided: seeking during startup stays startup; seek, pause and ad
buffering are not rebuffering; a resume stays paused until `playing`; no pause
lasts 30 minutes unless the viewer went away (then the gap counts for no state).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any

from producers.events import Dimensions, PlaySession
from producers.simulator.catalog import (
    SDK_VERSION,
    Rendition,
    Title,
    Viewer,
    ladder_for,
    seeded_uuid,
)
from producers.simulator import playback
from producers.simulator.incidents import IncidentSchedule
from producers.simulator.rates import (
    P_AD_EXIT,
    P_EARLY_EXIT,
    P_ENTITLEMENT_ERROR,
    P_NO_ATTEMPT,
    P_PREROLL,
    P_START_FAILURE,
    START_FAILURES,
    lognormal_ms,
    uniform_ms,
)
from producers.simulator.timeline import SessionBuilder, WindowEnded
from producers.simulator.truth import summarize

@dataclass(frozen=True)
class SessionContext:
    viewer: Viewer
    title: Title
    cdn: str
    start_ms: int  # true time of view_start
    window_start_ms: int
    horizon_ms: int  # the window's end: no event after it
    skew_ms: int
    schedule: IncidentSchedule
    resume_position_ms: int | None = None  # "continue watching": seek there during startup


@dataclass
class SessionOutcome:
    events: list[dict[str, Any]]
    truth: dict[str, Any]
    closed: bool
    last_ts: int  # true time of the last event
    completed: bool


def generate_session(rng: Random, ctx: SessionContext) -> SessionOutcome:
    """Events and truth of one play session, starting at ctx.start_ms."""
    viewer, title = ctx.viewer, ctx.title
    platform = viewer.platform
    session = PlaySession(
        viewer_id=viewer.viewer_id,
        content_id=title.content_id,
        content_type=title.content_type,
        play_session_id=seeded_uuid(rng),
        dimensions=Dimensions(
            content_duration_ms=title.duration_ms, content_title=title.title, series_id=title.series_id,
            player_name=platform.player_name, player_version=viewer.player_version, sdk_version=SDK_VERSION,
            app_version=platform.app_version, device_type=platform.device_type, os_name=platform.os_name,
            os_version=viewer.os_version, device_model=viewer.device_model, cdn=ctx.cdn,
            connection_type=viewer.network.connection_type, country=viewer.country, isp=viewer.isp,
        ),
        new_event_id=lambda: seeded_uuid(rng),
    )
    builder = SessionBuilder(session, now=ctx.start_ms, horizon=ctx.horizon_ms, skew_ms=ctx.skew_ms,
                             on_heartbeat=_buffer_level)
    model = SessionModel(rng, ctx, builder)
    try:
        model.run()
    except WindowEnded:
        pass  # the window ended first: the session stays open, nothing after it exists
    truth = summarize(builder, ctx=ctx, bandwidth_kbps=model.initial_bandwidth)
    assert builder.last_ts is not None
    return SessionOutcome(builder.events, truth, builder.closed, builder.last_ts, truth["completed"])


def _buffer_level(b: SessionBuilder) -> dict[str, Any]:
    """buffer_ms for heartbeats: empty in a stall, filling while playing."""
    span = b.spans[-1]
    if span.kind in ("stall", "starting", "seek", "idle"):
        return {"buffer_ms": 0 if span.kind == "stall" else min(4_000, (b.now - span.start) // 2)}
    return {"buffer_ms": min(30_000, 6_000 + (b.now - span.start) // 3)}


class SessionModel:
    """The decisions of one session; `playback.watch` continues it after the first frame."""

    def __init__(self, rng: Random, ctx: SessionContext, builder: SessionBuilder) -> None:
        self.rng, self.ctx, self.b = rng, ctx, builder
        net = ctx.viewer.network
        max_height = min(ctx.viewer.platform.max_height, 1080 if ctx.title.content_type == "live" else 2160)
        self.ladder = ladder_for(max_height)
        self.initial_bandwidth = lognormal_ms(rng, net.median_kbps, net.sigma, 200, 500_000)
        self.log_median_bw = math.log(self.initial_bandwidth)
        self.bandwidth = float(self.initial_bandwidth)
        self.ad_break_id = ""
        self.ads: list[tuple[str, int]] = []  # (ad_id, planned ms) of the pre-roll

    # --- whole session -----------------------------------------------------------

    def run(self) -> None:
        b, rng = self.b, self.rng
        b.begin("idle")
        b.emit("view_start", playhead=False)
        b.restart_heartbeats()
        b.wait(uniform_ms(rng, 150, 1_500))
        b.emit("player_ready", playhead=False)
        if rng.random() < P_NO_ATTEMPT:  # looked at the details page and left
            b.wait(uniform_ms(rng, 2_000, 45_000))
            self.exit()
            return
        b.wait(uniform_ms(rng, 200, 4_000))
        if self.startup():
            self.watch()

    def exit(self) -> None:
        self.b.emit("view_end")
        self.b.close()

    def trailing_view_end(self, probability: float) -> None:
        """After closed (fatal error, ended) players often still send view_end; it
        changes nothing (qoe-metrics.md §1) but counts in event_count."""
        if self.rng.random() < probability:
            self.b.wait(uniform_ms(self.rng, 300, 4_000))
            self.b.emit("view_end")

    def rung_for(self, bandwidth: float) -> Rendition:
        fitting = [r for r in self.ladder if r.bitrate_kbps <= 0.8 * bandwidth]
        return fitting[-1] if fitting else self.ladder[0]

    # --- startup: play_request to first frame (or failure, or exit) ---------------

    def startup(self) -> bool:
        """True when a first frame was reached and the session goes on."""
        b, rng, ctx = self.b, self.rng, self.ctx
        viewer, title = ctx.viewer, ctx.title
        b.emit("play_request", playhead=False)
        b.play_request_ts = t0 = b.now
        b.begin("starting")

        allowed = title.allowed_countries
        if allowed is not None and viewer.country not in allowed or rng.random() < P_ENTITLEMENT_ERROR:
            b.wait(uniform_ms(rng, 250, 900))  # the entitlement check answers quickly
            if allowed is not None and viewer.country not in allowed:
                b.error("GEO_BLOCKED", f"{title.title} is not available in {viewer.country}",
                        fatal=True, category="business")
            else:
                b.error("CONCURRENT_STREAM_LIMIT", "too many streams on this account", fatal=True, category="business")
            self.trailing_view_end(0.7)
            return False

        slow, active = ctx.schedule.cdn_factor("cdn-stall", ctx.cdn, t0)
        b.incidents.update(i.name for i in active)
        net = viewer.network
        device_extra = 400 if viewer.platform.device_type in ("tv", "console") else 0
        startup_ms = lognormal_ms(rng, net.startup_ms * min(3.0, math.sqrt(slow)), 0.5, 250, 40_000) + device_extra

        failure = self.start_failure(startup_ms)
        if failure and failure[0] >= startup_ms:
            startup_ms = failure[0] + 1  # e.g. a manifest timeout: it would have taken longer

        plan: list[tuple[int, Callable[[], None]]] = []
        offset = uniform_ms(rng, 20, 150)
        if title.content_type == "vod" and ctx.resume_position_ms is not None:
            seek_end_at = max(offset + 100, startup_ms * 3 // 5)
            startup_ms = max(startup_ms, seek_end_at + 50)
            plan += self.startup_seek(offset, seek_end_at)
            offset = seek_end_at
        preroll = title.has_ads and rng.random() < P_PREROLL
        if preroll:
            ad_at = offset + (startup_ms - offset) // 3
            plan += self.preroll_start(ad_at)
        elif rng.random() < 0.75:  # startup buffering: no state change in `starting`
            plan.append((offset + (startup_ms - offset) // 4, lambda: b.emit("buffer_start")))
            if rng.random() < 0.6:
                plan.append((startup_ms - uniform_ms(rng, 0, 30), lambda: b.emit("buffer_end")))

        patience = lognormal_ms(rng, 10_000, 0.5, 1_500, 120_000)
        if rng.random() < P_EARLY_EXIT:
            patience = uniform_ms(rng, 300, max(301, startup_ms))
        b.startup = {"request_ts": t0, "planned_ms": startup_ms, "resume_seek_to": ctx.resume_position_ms
                     if title.content_type == "vod" else None, "preroll": preroll, "patience_ms": patience}

        stop_at = min(failure[0] if failure else startup_ms, patience if patience < startup_ms else startup_ms)
        for at, action in sorted(plan, key=lambda item: item[0]):
            if at >= stop_at and stop_at < startup_ms:
                break
            b.wait(t0 + at - b.now)
            action()
        b.wait(t0 + stop_at - b.now)
        if failure and failure[0] == stop_at < startup_ms:
            code, message, cause = failure[1]
            b.error(code, message, fatal=True, cause=cause)
            self.trailing_view_end(0.6)
            return False
        if stop_at < startup_ms:  # exit before start: gave up waiting
            b.startup["exit_before_start_ms"] = stop_at
            self.exit()
            return False
        if preroll:
            return self.preroll_play()
        b.rendition = self.rung_for(self.bandwidth)
        b.content_playing(first_frame=True)
        b.startup["first_frame_ts"] = b.now
        return True

    def start_failure(self, startup_ms: int) -> tuple[int, tuple[str, str, str | None]] | None:
        rng, ctx = self.rng, self.ctx
        probability, active = ctx.schedule.start_failure(ctx.viewer.player_version, self.b.now)
        self.b.incidents.update(i.name for i in active)
        if active and rng.random() < probability:
            names = ",".join(i.name for i in active)
            at = uniform_ms(rng, 300, max(301, startup_ms - 1))
            return at, ("PLAYER_INIT_FAILED", f"player {ctx.viewer.player_version} failed to initialise",
                        f"incident:{names}")
        base = P_START_FAILURE * (3 if ctx.viewer.network.name == "3g" else 1)
        if rng.random() < base:
            code, message = rng.choice(START_FAILURES)
            at = uniform_ms(rng, 200, max(201, startup_ms - 1)) if code != "MANIFEST_LOAD_TIMEOUT" else 8_000
            return at, (code, message, None)
        return None

    def startup_seek(self, at: int, end_at: int) -> list[tuple[int, Callable[[], None]]]:
        """Continue watching: seek to the resume point while starting (still startup, §1)."""
        b, target = self.b, self.ctx.resume_position_ms
        assert target is not None

        def seek_start() -> None:
            b.emit("seek_start")
            b.playhead = target

        return [
            (at, seek_start),
            (at + 20, lambda: b.emit("buffer_start")),
            (end_at - 10, lambda: b.emit("buffer_end")),
            (end_at, lambda: b.emit("seek_end")),
        ]

    def preroll_start(self, at: int) -> list[tuple[int, Callable[[], None]]]:
        """The break starts while the content is still starting: its events are startup."""
        b, rng = self.b, self.rng
        self.ad_break_id = f"preroll-{rng.getrandbits(32):08x}"
        count = rng.choices((1, 2, 3), weights=(6, 3, 1), k=1)[0]
        self.ads = [(f"ad-{rng.getrandbits(24):06x}", rng.choice((15_000, 20_000, 30_000)) + rng.randint(0, 400))
                    for _ in range(count)]
        plan = [(at, lambda: b.emit("ad_break_start", playhead=False, ad_break_id=self.ad_break_id)),
                (at + 5, lambda: b.emit("ad_start", playhead=False, ad_id=self.ads[0][0], ad_break_id=self.ad_break_id))]
        if rng.random() < 0.5:  # ad buffering while starting: still startup
            plan.append((at + 10, lambda: b.emit("buffer_start", playhead=False)))
        return plan

    def preroll_play(self) -> bool:
        """First frame is the ad's (startup ends there, §2); ad playing time is ad_time."""
        b, rng = self.b, self.rng
        b.emit("playing", playhead=False)
        b.first_frame_ts = b.now
        b.startup["first_frame_ts"] = b.now
        b.begin("ad")
        for index, (ad_id, duration) in enumerate(self.ads):
            if index:
                b.wait(uniform_ms(rng, 0, 300))
                b.emit("ad_start", playhead=False, ad_id=ad_id, ad_break_id=self.ad_break_id)
            started = b.now
            b.ads.append({"ad_id": ad_id, "ad_break_id": self.ad_break_id, "start_ts": started, "planned_ms": duration})
            if rng.random() < P_AD_EXIT:  # skipped out of the ad and the title
                b.wait(uniform_ms(rng, 1_000, duration - 1))
                self.exit()
                return False
            if rng.random() < 0.1:  # ad buffering while playing in_ad: not rebuffering (§1)
                b.wait(uniform_ms(rng, 500, duration // 2))
                b.emit("buffer_start", playhead=False)
                b.wait(uniform_ms(rng, 200, 3_000))
                b.emit("buffer_end", playhead=False)
            b.wait(max(0, started + duration - b.now))
            b.emit("ad_end", playhead=False, ad_id=ad_id, ad_break_id=self.ad_break_id)
        b.emit("ad_break_end", playhead=False, ad_break_id=self.ad_break_id)
        # The content was preloaded during the break: its first frame follows at once,
        # carrying the first content bitrate.
        b.rendition = self.rung_for(self.bandwidth)
        b.content_playing()
        return True

    # --- watching ------------------------------------------------------------------

    def watch(self) -> None:
        playback.watch(self)
