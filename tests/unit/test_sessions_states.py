"""The state machine of qoe-metrics.md section 1, one transition-table row at a time.

Every case is a tiny play session declared next to its test; the module folds all
of them with one `play_sessions` run. A state is observed through the time column
it feeds (`spent`): starting -> startup, playing -> play (ad when in an ad break),
rebuffering, seeking, paused; idle and closed feed none.
"""

from __future__ import annotations

import pytest

from tests.fixtures_spark import MINUTE_MS, ORIGIN_MS, SessionCases, event_rows, spent

CASES = SessionCases()
# Placed 5 minutes before the watermark: only reaching `closed` makes these final.
NEAR_WATERMARK = CASES.watermark_ms - 5 * MINUTE_MS
FATAL = {"error_fatal": True, "error_code": "E_FATAL", "error_message": "stopped"}
NON_FATAL = {"error_fatal": False, "error_code": "E_SOFT", "error_message": "retrying"}
AD = {"ad_break_id": "break-1", "ad_id": "ad-1"}


@pytest.fixture(scope="module")
def folded(spark):
    return CASES.fold(spark)


# --- play_request -------------------------------------------------------------

PLAY_REQUEST_FROM_IDLE = CASES.add(
    "play_request_from_idle",
    [(0, "view_start"), (500, "player_ready"), (1000, "play_request"), (8000, "playing"), (9000, "view_end")],
)


def test_play_request_from_idle_starts(folded):
    session = folded[PLAY_REQUEST_FROM_IDLE]
    # 0-1000 was idle: no time column; 1000-8000 starting.
    assert spent(session) == {"starting": 7000, "playing": 1000}
    assert session["startup_time_ms"] == 7000


PLAY_REQUEST_FROM_PAUSED_BEFORE_FRAME = CASES.add(
    "play_request_from_paused_before_first_frame",
    [(0, "play_request"), (1000, "pause"), (3000, "play_request"), (10000, "playing"), (11000, "view_end")],
)


def test_play_request_from_paused_before_first_frame_starts_again(folded):
    session = folded[PLAY_REQUEST_FROM_PAUSED_BEFORE_FRAME]
    assert spent(session) == {"starting": 1000 + 7000, "paused": 2000, "playing": 1000}


RESUME_AFTER_FIRST_FRAME = CASES.add(
    "resume_after_first_frame",
    [
        (0, "play_request"),
        (1000, "playing"),
        (2000, "pause"),
        (5000, "play_request"),  # resume: still paused until `playing`
        (9000, "playing"),
        (10000, "view_end"),
    ],
)


def test_resume_after_first_frame_stays_paused_until_playing(folded):
    session = folded[RESUME_AFTER_FIRST_FRAME]
    assert spent(session) == {"starting": 1000, "playing": 2000, "paused": 3000 + 4000}


PLAY_REQUEST_WHILE = {
    "starting": CASES.add(
        "play_request_while_starting",
        [(0, "play_request"), (1000, "play_request"), (3000, "playing"), (4000, "view_end")],
    ),
    "playing": CASES.add(
        "play_request_while_playing",
        [(0, "play_request"), (1000, "playing"), (2000, "play_request"), (4000, "view_end")],
    ),
    "seeking": CASES.add(
        "play_request_while_seeking",
        [
            (0, "play_request"),
            (1000, "playing"),
            (2000, "seek_start"),
            (3000, "play_request"),
            (4000, "playing"),
            (5000, "view_end"),
        ],
    ),
}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("starting", {"starting": 3000, "playing": 1000}),
        ("playing", {"starting": 1000, "playing": 3000}),
        ("seeking", {"starting": 1000, "playing": 2000, "seeking": 2000}),
    ],
)
def test_play_request_changes_nothing_in_other_states(folded, state, expected):
    assert spent(folded[PLAY_REQUEST_WHILE[state]]) == expected


# --- playing ------------------------------------------------------------------

PLAYING_FROM = {
    "idle": CASES.add("playing_from_idle", [(0, "view_start"), (1000, "playing"), (3000, "view_end")]),
    "starting": CASES.add("playing_from_starting", [(0, "play_request"), (1000, "playing"), (3000, "view_end")]),
    "playing": CASES.add(
        "playing_from_playing", [(0, "play_request"), (1000, "playing"), (2000, "playing"), (3000, "view_end")]
    ),
    "paused": CASES.add(
        "playing_from_paused",
        [(0, "play_request"), (1000, "playing"), (2000, "pause"), (4000, "playing"), (7000, "view_end")],
    ),
    "seeking": CASES.add(
        "playing_from_seeking",
        [(0, "play_request"), (1000, "playing"), (2000, "seek_start"), (5000, "playing"), (6000, "view_end")],
    ),
    "rebuffering": CASES.add(
        "playing_from_rebuffering",
        [(0, "play_request"), (1000, "playing"), (2000, "buffer_start"), (4000, "playing"), (5000, "view_end")],
    ),
}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("idle", {"playing": 2000}),
        ("starting", {"starting": 1000, "playing": 2000}),
        ("playing", {"starting": 1000, "playing": 2000}),
        ("paused", {"starting": 1000, "playing": 1000 + 3000, "paused": 2000}),
        ("seeking", {"starting": 1000, "playing": 1000 + 1000, "seeking": 3000}),
        ("rebuffering", {"starting": 1000, "playing": 1000 + 1000, "rebuffering": 2000}),
    ],
)
def test_playing_from_any_state_but_closed(folded, state, expected):
    assert spent(folded[PLAYING_FROM[state]]) == expected


def test_first_playing_is_the_first_frame(folded):
    assert folded[PLAYING_FROM["starting"]]["start_outcome"] == "started"
    assert folded[PLAYING_FROM["starting"]]["startup_time_ms"] == 1000


PLAYING_AFTER_CLOSED = CASES.add(
    "playing_after_closed",
    [(0, "play_request"), (1000, "playing"), (2000, "ended"), (3000, "playing"), (5000, "heartbeat")],
)


def test_playing_after_closed_changes_nothing(folded):
    assert spent(folded[PLAYING_AFTER_CLOSED]) == {"starting": 1000, "playing": 1000}


# --- pause ----------------------------------------------------------------------

PAUSE_FROM = {
    "starting": CASES.add(
        "pause_from_starting", [(0, "play_request"), (1000, "pause"), (4000, "playing"), (5000, "view_end")]
    ),
    "playing": CASES.add(
        "pause_from_playing",
        [(0, "play_request"), (1000, "playing"), (2000, "pause"), (5000, "playing"), (6000, "view_end")],
    ),
    "rebuffering": CASES.add(
        "pause_from_rebuffering",
        [
            (0, "play_request"),
            (1000, "playing"),
            (2000, "buffer_start"),
            (3000, "pause"),
            (6000, "playing"),
            (7000, "view_end"),
        ],
    ),
    "seeking": CASES.add(
        "pause_from_seeking",
        [
            (0, "play_request"),
            (1000, "playing"),
            (2000, "seek_start"),
            (3000, "pause"),
            (6000, "playing"),
            (7000, "view_end"),
        ],
    ),
}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("starting", {"starting": 1000, "paused": 3000, "playing": 1000}),
        ("playing", {"starting": 1000, "playing": 1000 + 1000, "paused": 3000}),
        ("rebuffering", {"starting": 1000, "playing": 1000 + 1000, "rebuffering": 1000, "paused": 3000}),
        ("seeking", {"starting": 1000, "playing": 1000 + 1000, "seeking": 1000, "paused": 3000}),
    ],
)
def test_pause_from_its_source_states(folded, state, expected):
    assert spent(folded[PAUSE_FROM[state]]) == expected


PAUSE_WHILE_IDLE = CASES.add(
    "pause_while_idle",
    [(0, "view_start"), (1000, "pause"), (3000, "play_request"), (4000, "playing"), (5000, "view_end")],
)


def test_pause_while_idle_changes_nothing(folded):
    # Still idle from 1000 to 3000: no paused time.
    assert spent(folded[PAUSE_WHILE_IDLE]) == {"starting": 1000, "playing": 1000}


# --- seek_start / seek_end --------------------------------------------------------

SEEK_DURING_STARTING = CASES.add(
    "seek_during_starting",
    [(0, "play_request"), (1000, "seek_start"), (2000, "seek_end"), (4000, "playing"), (5000, "view_end")],
)


def test_seek_start_during_starting_is_startup(folded):
    session = folded[SEEK_DURING_STARTING]
    assert spent(session) == {"starting": 4000, "playing": 1000}
    assert session["seek_count"] == 0


SEEK_FROM_PLAYING = CASES.add(
    "seek_from_playing",
    [
        (0, "play_request"),
        (1000, "playing"),
        (2000, "seek_start"),
        (3000, "seek_end"),  # not from paused: the seek lasts until `playing`
        (5000, "playing"),
        (6000, "view_end"),
    ],
)


def test_seek_start_from_playing_seeks_until_playing(folded):
    session = folded[SEEK_FROM_PLAYING]
    assert spent(session) == {"starting": 1000, "playing": 1000 + 1000, "seeking": 3000}
    assert session["seek_count"] == 1


def test_seek_end_of_a_seek_from_playing_changes_nothing(folded):
    # 3000-5000, after seek_end, is still seeking.
    assert folded[SEEK_FROM_PLAYING]["seek_time_ms"] == 3000


SEEK_FROM_REBUFFERING = CASES.add(
    "seek_from_rebuffering",
    [
        (0, "play_request"),
        (1000, "playing"),
        (2000, "buffer_start"),
        (3000, "seek_start"),
        (4000, "seek_end"),
        (6000, "playing"),
        (7000, "view_end"),
    ],
)


def test_seek_start_from_rebuffering_seeks(folded):
    session = folded[SEEK_FROM_REBUFFERING]
    assert spent(session) == {"starting": 1000, "playing": 1000 + 1000, "rebuffering": 1000, "seeking": 3000}
    assert (session["rebuffer_count"], session["seek_count"]) == (1, 1)


SEEK_FROM_PAUSED = CASES.add(
    "seek_from_paused",
    [
        (0, "play_request"),
        (1000, "playing"),
        (2000, "pause"),
        (4000, "seek_start"),
        (5000, "seek_end"),  # came from paused: back to paused
        (7000, "play_request"),  # resume: still paused
        (8000, "playing"),
        (9000, "view_end"),
    ],
)


def test_seek_start_from_paused_seeks_and_seek_end_returns_to_paused(folded):
    session = folded[SEEK_FROM_PAUSED]
    assert spent(session) == {"starting": 1000, "playing": 1000 + 1000, "paused": 2000 + 2000 + 1000, "seeking": 1000}
    assert session["seek_count"] == 1


REPEATED_SEEK_FROM_PAUSED = CASES.add(
    "repeated_seek_from_paused",
    [
        (0, "play_request"),
        (1000, "playing"),
        (2000, "pause"),
        (3000, "seek_start"),
        (4000, "seek_start"),  # seeking already: no change, the from-paused memory stays
        (5000, "seek_end"),
        (7000, "playing"),
        (8000, "view_end"),
    ],
)


def test_seek_start_while_seeking_keeps_the_from_paused_memory(folded):
    session = folded[REPEATED_SEEK_FROM_PAUSED]
    assert spent(session) == {"starting": 1000, "playing": 1000 + 1000, "paused": 1000 + 2000, "seeking": 2000}
    assert session["seek_count"] == 1


SEEK_FROM_PAUSED_THEN_FROM_PLAYING = CASES.add(
    "seek_from_paused_then_from_playing",
    [
        (0, "play_request"),
        (1000, "playing"),
        (2000, "pause"),
        (3000, "seek_start"),
        (4000, "playing"),
        (5000, "seek_start"),  # from playing this time: the memory is replaced
        (6000, "seek_end"),
        (8000, "playing"),
        (9000, "view_end"),
    ],
)


def test_from_paused_memory_belongs_to_the_latest_seek(folded):
    session = folded[SEEK_FROM_PAUSED_THEN_FROM_PLAYING]
    assert spent(session) == {"starting": 1000, "playing": 1000 + 1000 + 1000, "paused": 1000, "seeking": 1000 + 3000}
    assert session["seek_count"] == 2


SEEK_END_WITHOUT_SEEK = CASES.add(
    "seek_end_without_seek",
    [(0, "play_request"), (1000, "playing"), (2000, "seek_end"), (3000, "view_end")],
)


def test_seek_end_while_playing_changes_nothing(folded):
    assert spent(folded[SEEK_END_WITHOUT_SEEK]) == {"starting": 1000, "playing": 2000}


# --- buffer_start / buffer_end -----------------------------------------------------

REBUFFER = CASES.add(
    "rebuffer",
    [(0, "play_request"), (1000, "playing"), (2000, "buffer_start"), (3500, "buffer_end"), (5000, "view_end")],
)


def test_buffer_start_while_playing_rebuffers_until_buffer_end(folded):
    session = folded[REBUFFER]
    assert spent(session) == {"starting": 1000, "playing": 1000 + 1500, "rebuffering": 1500}
    assert session["rebuffer_count"] == 1


REBUFFER_TWICE_STARTED = CASES.add(
    "buffer_start_while_rebuffering",
    [
        (0, "play_request"),
        (1000, "playing"),
        (2000, "buffer_start"),
        (3000, "buffer_start"),
        (4000, "buffer_end"),
        (5000, "view_end"),
    ],
)


def test_buffer_start_while_rebuffering_is_not_a_new_entry(folded):
    session = folded[REBUFFER_TWICE_STARTED]
    assert spent(session) == {"starting": 1000, "playing": 1000 + 1000, "rebuffering": 2000}
    assert session["rebuffer_count"] == 1


BUFFER_WHILE = {
    "in_ad": CASES.add(
        "buffer_while_in_ad",
        [
            (0, "play_request"),
            (1000, "playing"),
            (2000, "ad_break_start", AD),
            (3000, "buffer_start"),
            (4000, "buffer_end"),
            (5000, "ad_break_end", AD),
            (6000, "view_end"),
        ],
    ),
    "starting": CASES.add(
        "buffer_while_starting",
        [(0, "play_request"), (1000, "buffer_start"), (2000, "buffer_end"), (3000, "playing"), (4000, "view_end")],
    ),
    "seeking": CASES.add(
        "buffer_while_seeking",
        [
            (0, "play_request"),
            (1000, "playing"),
            (2000, "seek_start"),
            (3000, "buffer_start"),
            (4000, "buffer_end"),
            (5000, "playing"),
            (6000, "view_end"),
        ],
    ),
    "paused": CASES.add(
        "buffer_while_paused",
        [
            (0, "play_request"),
            (1000, "playing"),
            (2000, "pause"),
            (3000, "buffer_start"),
            (4000, "buffer_end"),
            (6000, "playing"),
            (7000, "view_end"),
        ],
    ),
}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        # ad buffering: the break is ad time from 2000 to 5000, none of it rebuffering
        ("in_ad", {"starting": 1000, "playing": 1000 + 1000, "ad": 3000}),
        ("starting", {"starting": 3000, "playing": 1000}),
        ("seeking", {"starting": 1000, "playing": 1000 + 1000, "seeking": 3000}),
        ("paused", {"starting": 1000, "playing": 1000 + 1000, "paused": 4000}),
    ],
)
def test_buffer_start_and_end_outside_playing_change_nothing(folded, state, expected):
    session = folded[BUFFER_WHILE[state]]
    assert spent(session) == expected
    assert session["rebuffer_count"] == 0


# --- error, ended, view_end ---------------------------------------------------------

NON_FATAL_ERROR = CASES.add(
    "non_fatal_error",
    [(0, "play_request"), (1000, "playing"), (2000, "error", NON_FATAL), (4000, "view_end")],
)


def test_non_fatal_error_changes_nothing(folded):
    session = folded[NON_FATAL_ERROR]
    assert spent(session) == {"starting": 1000, "playing": 3000}
    assert (session["error_count"], session["fatal_error_code"], session["playback_failure"]) == (1, None, False)


FATAL_ERROR = CASES.add(
    "fatal_error",
    [(0, "play_request"), (1000, "playing"), (2000, "error", FATAL), (4000, "heartbeat")],
    origin_ms=NEAR_WATERMARK,
)


def test_fatal_error_closes(folded):
    session = folded[FATAL_ERROR]
    assert spent(session) == {"starting": 1000, "playing": 1000}
    assert session["is_final"] is True
    assert session["end_time"].timestamp() * 1000 == NEAR_WATERMARK + 2000
    assert (session["error_count"], session["fatal_error_code"], session["event_count"]) == (1, "E_FATAL", 4)


CLOSED_BY = {
    "ended": CASES.add(
        "closed_by_ended",
        [(0, "play_request"), (1000, "playing"), (3000, "ended"), (5000, "view_end")],
        origin_ms=NEAR_WATERMARK,
    ),
    "view_end": CASES.add(
        "closed_by_view_end",
        [(0, "play_request"), (1000, "playing"), (3000, "view_end"), (5000, "heartbeat")],
        origin_ms=NEAR_WATERMARK,
    ),
}


@pytest.mark.parametrize(("event_type", "completed"), [("ended", True), ("view_end", False)])
def test_ended_and_view_end_close(folded, event_type, completed):
    session = folded[CLOSED_BY[event_type]]
    assert spent(session) == {"starting": 1000, "playing": 2000}
    assert session["is_final"] is True
    assert session["completed"] is completed
    assert session["end_time"].timestamp() * 1000 == NEAR_WATERMARK + 3000
    assert session["event_count"] == 4


# --- events that change nothing -------------------------------------------------------

NO_CHANGE_EVENTS = {
    "heartbeat": {},
    "rendition_change": {"bitrate_kbps": 2000},
    "view_start": {},
    "player_ready": {},
    "error": NON_FATAL,
    "ad_start": AD,
    "ad_end": AD,
}
NO_CHANGE_WHILE_PAUSED = {
    event_type: CASES.add(
        f"{event_type}_while_paused",
        [
            (0, "play_request"),
            (1000, "playing"),
            (2000, "pause"),
            (3000, event_type, fields),
            (5000, "playing"),
            (6000, "view_end"),
        ],
    )
    for event_type, fields in NO_CHANGE_EVENTS.items()
}
NO_CHANGE_WHILE_REBUFFERING = {
    event_type: CASES.add(
        f"{event_type}_while_rebuffering",
        [
            (0, "play_request"),
            (1000, "playing"),
            (2000, "buffer_start"),
            (3000, event_type, fields),
            (5000, "buffer_end"),
            (6000, "view_end"),
        ],
    )
    for event_type, fields in NO_CHANGE_EVENTS.items()
}


@pytest.mark.parametrize("event_type", sorted(NO_CHANGE_EVENTS))
def test_other_events_change_nothing(folded, event_type):
    assert spent(folded[NO_CHANGE_WHILE_PAUSED[event_type]]) == {"starting": 1000, "playing": 2000, "paused": 3000}
    rebuffering = folded[NO_CHANGE_WHILE_REBUFFERING[event_type]]
    assert spent(rebuffering) == {"starting": 1000, "playing": 2000, "rebuffering": 3000}
    assert rebuffering["rebuffer_count"] == 1


# --- after closed, gaps, the last event --------------------------------------------------

AFTER_CLOSED = CASES.add(
    "events_after_closed",
    [
        (0, "play_request"),
        (1000, "playing", {"bitrate_kbps": 3000, "playhead_ms": 0}),
        (2000, "ended", {"playhead_ms": 1000}),
        (3000, "error", {**FATAL, "error_code": "E_LATE"}),
        (4000, "rendition_change", {"bitrate_kbps": 9000}),
        (5000, "heartbeat", {"playhead_ms": 99_999, "cdn": "late-cdn", "country": "FR"}),
        (6000, "playing"),
    ],
)


def test_events_after_closed_count_only_in_event_count(folded):
    session = folded[AFTER_CLOSED]
    assert spent(session) == {"starting": 1000, "playing": 1000}
    assert session["event_count"] == 7
    assert session["error_count"] == 0
    assert session["fatal_error_code"] is None
    assert session["playback_failure"] is False
    assert (session["upshift_count"], session["max_playhead_ms"]) == (0, 1000)
    assert (session["cdn"], session["country"]) == (None, None)
    assert session["end_time"].timestamp() * 1000 == ORIGIN_MS + 2000
    assert session["avg_bitrate_kbps"] == 3000.0


GAP = 30 * MINUTE_MS
OVER_GAP = CASES.add(
    "gap_over_30_minutes",
    [(0, "play_request"), (1000, "playing"), (1000 + GAP + 1, "heartbeat"), (1000 + GAP + 1 + 5000, "view_end")],
)
AT_GAP = CASES.add(
    "gap_of_30_minutes",
    [(0, "play_request"), (1000, "playing"), (1000 + GAP, "heartbeat"), (1000 + GAP + 5000, "view_end")],
)
STATE_KEPT_OVER_GAP = CASES.add(
    "state_kept_over_gap",
    [
        (0, "play_request"),
        (1000, "playing"),
        (2000, "pause"),
        (2000 + GAP + 1, "heartbeat"),  # the gap is no one's; still paused after it
        (2000 + GAP + 4001, "playing"),
        (2000 + GAP + 5001, "view_end"),
    ],
)


def test_gap_over_30_minutes_belongs_to_no_state(folded):
    assert spent(folded[OVER_GAP]) == {"starting": 1000, "playing": 5000}
    assert spent(folded[AT_GAP]) == {"starting": 1000, "playing": GAP + 5000}
    assert spent(folded[STATE_KEPT_OVER_GAP]) == {"starting": 1000, "playing": 1000 + 1000, "paused": 4000}


LAST_EVENT_PLAYING = CASES.add("last_event_playing", [(0, "play_request"), (1000, "playing")])


def test_nothing_after_the_last_event_counts(folded):
    session = folded[LAST_EVENT_PLAYING]
    assert spent(session) == {"starting": 1000}
    assert session["watch_time_ms"] == 1000


# --- order -------------------------------------------------------------------------

SAME_TS_BY_SEQ = CASES.add(
    "same_ts_ordered_by_seq",
    [(0, "play_request"), (1000, "playing"), (2000, "pause"), (2000, "playing"), (5000, "view_end")],
)
SAME_TS_SEQ_SWAPPED = CASES.add(
    "same_ts_seq_swapped",
    [
        (0, "play_request"),
        (1000, "playing"),
        (2000, "pause", {"seq": 3}),
        (2000, "playing", {"seq": 2}),
        (5000, "view_end"),
    ],
)
TS_BEFORE_SEQ = CASES.add(
    "event_ts_before_seq",
    [(0, "play_request"), (3000, "pause", {"seq": 1}), (1000, "playing", {"seq": 2}), (4000, "view_end")],
)
# Arrival order means nothing (player-events.md, Delivery): shuffle the rows.
CASES.rows.reverse()


def test_events_are_ordered_by_event_ts_then_seq(folded):
    assert spent(folded[SAME_TS_BY_SEQ]) == {"starting": 1000, "playing": 1000 + 3000}
    assert spent(folded[SAME_TS_SEQ_SWAPPED]) == {"starting": 1000, "playing": 1000, "paused": 3000}
    assert spent(folded[TS_BEFORE_SEQ]) == {"starting": 1000, "playing": 2000, "paused": 1000}


DUPLICATED = CASES.add(
    "duplicated_event",
    [(0, "play_request"), (1000, "playing"), (2000, "error", NON_FATAL), (3000, "view_end")],
)
CASES.rows.extend(
    row for row in event_rows(DUPLICATED, [(0, "play_request"), (1000, "playing"), (2000, "error", NON_FATAL)])
)


def test_a_duplicate_event_id_counts_once(folded):
    session = folded[DUPLICATED]
    assert (session["event_count"], session["error_count"]) == (4, 1)
    assert spent(session) == {"starting": 1000, "playing": 2000}
