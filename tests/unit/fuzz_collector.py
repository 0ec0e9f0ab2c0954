"""A coverage-guided fuzz target (atheris) for the collector's JSON and CMCD parsers.

    python tests/unit/fuzz_collector.py -max_total_time=20

Any exception other than a whole-body refusal (RequestError), or an accepted event the
contract's validator refuses, is a crash. Run, bounded, by
tests/unit/test_collector_properties.py.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from producers.collector import cmcd, ingest, sfv
    from producers.collector.ingest import Limits, RequestError
    from schemas.validate import validate_event

NOW = 1_796_000_000_000
LIMITS = Limits(max_body_bytes=1 << 20, max_events=500, max_event_bytes=1 << 16)


def check(outcome: ingest.Outcome) -> None:
    for event in outcome.accepted:
        if validate_event(event):
            raise AssertionError(f"an invalid event was accepted: {event!r}")


def one_input(data: bytes) -> None:
    route = data[:1]
    body = data[1:]
    try:
        if route and route[0] % 2:
            check(ingest.ingest_cmcd(body, limits=LIMITS, received_ms=NOW, app_id="app", user_agent=None,
                                     viewer_id="v", content_type=None))
        else:
            check(ingest.ingest_json(body, limits=LIMITS, received_ms=NOW, app_id="app", user_agent=None))
    except RequestError:
        pass
    text = body.decode("latin-1")
    try:
        members = sfv.parse_dictionary(text)
    except sfv.SfvError:
        return
    if sfv.parse_dictionary(sfv.serialize_dictionary(members)) != members:
        raise AssertionError(f"round trip changed {text!r}")
    cmcd.report_to_event(members, line=text, app_id="app", viewer_id=None)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
