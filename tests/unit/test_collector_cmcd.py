"""CMCD: the RFC 8941 grammar, CTA-5004-B's published examples, and their mapping onto
the contract (shared/spec/player-events.md, CMCD; docs/collector.md).

The published examples are CTA-5004-B's sections 8.1 (request mode) and 8.2 (event
mode), as the common-media-library repository keeps them as test data:
streaming-video-technology-alliance/common-media-library,
libs/cmcd/test/data/CTA_5004_B_EXAMPLES.ts (commit 1e06932e67802d8f44041a5206a3c9c5bbd36168),
copied here as data.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from producers.collector.cmcd import report_to_event
from producers.collector.ingest import MALFORMED_CMCD, Limits, device_of, ingest_cmcd
from producers.collector.sfv import (
    InnerList,
    Item,
    SfvError,
    Token,
    parse_dictionary,
    serialize_dictionary,
)
from schemas.validate import validate_event

# CTA-5004-B 8.1 (request mode): the grammar is the same in every mode.
EX_8_1_1 = ('bl=(2000),br=(3000;v),cid="content-id-123",d=4000,dl=1000,mtp=(15000),nor=("next-seg.mp4"),ot=v,'
            'rtp=12000,sf=d,sid="session-id-123",st=v,sta=p,tb=(6000;v),v=2')
EX_8_1_5 = ['cid="content-id-123",ec=("CODEC_NOT_SUPPORTED"),sid="session-id-123",sta=p,v=2',
            'cid="content-id-123",ec=("DRM_NOT_SUPPORTED" "PLAYBACK_FAILED"),sid="session-id-123",sta=f,v=2']
EX_8_1_6 = ['bl=(0),bs,cid="content-id-123",ot=v,sid="session-id-123",sta=r,v=2',
            'bl=(0;v 2000;a),bs,cid="content-id-123",ot=v,sid="session-id-123",sta=r,v=2']
EX_8_1_8 = ('bg,bl=(2100;v 1800;a),br=(3000;v 164;a),bs,bsa=(3;v),bsd=(1200;v 100;a),bsda=(4150;v 300;a),'
            'cid="content-id-123",cs="g48djn236sk2",d=4000,dfa=32,dl=1000,ec=("2001"),lb=(500;v 32;a),ltc=13500,'
            'msd=1700,mtp=(15000;v 6000;a),nor=("next-seg.mp4"),nr,ot=v,pb=(2000;v 164;a),pr=1.1,pt=632782,'
            'rtp=12000,sf=d,sid="session-id-123",sn=0,st=l,sta=p,su,tb=(6000;v 350;a),tbl=(2000;v 2000;a),'
            'tpb=(5000;v 164;a),v=2')
# CTA-5004-B 8.2 (event mode): POST bodies.
EX_8_2_1 = "e=t,ts=1764752400000,v=2"
EX_8_2_2 = [
    'bl=(0),cid="content-id-123",e=t,h="example.com",pt=0,sid="session-id-123",sn=1,sta=s,su,ts=1764752400000,v=2',
    'bl=(6000),br=(4200;v 256;a),cid="content-id-123",e=t,h="example.com",lb=(523;v 64;a),msd=812,'
    'mtp=(87000;v 49000;a),pb=(4200;v 256;a),pt=29188,sf=d,sid="session-id-123",sn=2,st=v,sta=p,'
    'tb=(4200;v 256;a),tpb=(4200;v 256;a),ts=1764752430000,v=2',
    'bl=(3200),br=(4200;v 256;a),bs,bsd=(720;v),cid="content-id-123",e=t,ec=("MEDIA_ERR_NETWORK"),h="example.com",'
    'lb=(523;v 64;a),mtp=(89000;v 52000;a),pb=(4200;v 256;a),pt=59188,sf=d,sid="session-id-123",sn=3,st=v,sta=p,'
    'tb=(4200;v 256;a),tpb=(4200;v 256;a),ts=1764752460000,v=2',
    'bl=(6000),br=(4200;v 256;a),cid="content-id-123",e=t,h="example.com",lb=(523;v 64;a),mtp=(81000;v 55000;a),'
    'pb=(4200;v 256;a),pt=89188,sf=d,sid="session-id-123",sn=4,st=v,sta=p,tb=(4200;v 256;a),tpb=(4200;v 256;a),'
    'ts=1764752490000,v=2',
    'bl=(0),br=(4200;v 256;a),cid="content-id-123",e=t,h="example.com",lb=(523;v 64;a),mtp=(82000;v 55000;a),'
    'pb=(4200;v 256;a),pr=0,pt=111000,sf=d,sid="session-id-123",sn=5,st=v,sta=e,tb=(4200;v 256;a),'
    'tpb=(4200;v 256;a),ts=1764752520000,v=2',
]
EX_8_2_3 = ('cid="bbb",cmsdd="ZXRwPTEyNTAwO3J0dD0zNTttYj02MDAwO3JkPTIwMA==",'
            'cmsds="c2lkPSI5YTNiLTIxY2QiO2JyPTQ1MDA7ZD00MDAwO290PXY7c3Q9dg==",e=rr,nor=("video/segment-6.m4v"),ot=v,'
            'rc=200,sid="session1",ts=1763657019723,ttfb=180,ttlb=200,url="video/segment-5.m4v",v=2')
EX_8_2_4 = 'cid="content-id-123",e=e,ec=("CODEC_NOT_SUPPORTED"),sid="session-id-123",ts=1764269150213,v=2'
EX_8_2_5 = ['bs,cid="content-id-123",e=ps,sid="session-id-123",sta=r,ts=1764269150889,v=2',
            'bs,bsd=(1500),cid="content-id-123",e=ps,sid="session-id-123",sta=p,ts=1764269152389,v=2']
EX_8_2_6 = 'bl=(0),cid="content-id-123",e=ps,pt=30000,sid="session-id-123",sta=k,ts=1764269150529,v=2'
EX_8_2_7 = 'cid="ad-content-555",e=sk,sid="session-id-123",ts=1764269150076,v=2'
EX_8_2_8 = ['cid="movie-123",e=abs,nr,sid="session-id-123",ts=1764269150186,v=2',
            'cid="ad-001",e=as,sid="session-id-123",ts=1764269150934,v=2',
            'cid="ad-001",e=ae,nr,sid="session-id-123",ts=1764269170901,v=2',
            'cid="movie-123",e=abe,sid="session-id-123",ts=1764269170331,v=2']
ALL_EXAMPLES = [EX_8_1_1, *EX_8_1_5, *EX_8_1_6, EX_8_1_8, EX_8_2_1, *EX_8_2_2, EX_8_2_3, EX_8_2_4, *EX_8_2_5,
                EX_8_2_6, EX_8_2_7, *EX_8_2_8]


def mapped(line: str, **options) -> dict:
    return report_to_event(parse_dictionary(line), line=line, app_id="app", viewer_id=options.get("viewer_id", "vw"),
                           content_type=options.get("content_type"))


# --- the grammar ----------------------------------------------------------------------


def test_every_published_example_parses_and_serialises_back_to_itself() -> None:
    for line in ALL_EXAMPLES:
        assert serialize_dictionary(parse_dictionary(line)) == line


def test_the_types_of_8_1_8() -> None:
    members = parse_dictionary(EX_8_1_8)
    assert members["bg"] == Item(True)
    assert members["br"] == InnerList((Item(3000, {"v": True}), Item(164, {"a": True})))
    assert members["cid"] == Item("content-id-123")
    assert members["ot"] == Item(Token("v"))
    assert members["pr"] == Item(Decimal("1.1"))
    assert members["ec"] == InnerList((Item("2001"),))
    assert members["sn"] == Item(0)
    assert list(members)[:3] == ["bg", "bl", "br"]


@pytest.mark.parametrize(("text", "value"), [
    ('s="a \\"quoted\\" \\\\ value"', Item('a "quoted" \\ value')),
    ("d=-12.5", Item(Decimal("-12.5"))),
    ("b=?0", Item(False)),
    ("b=?1;p=1", Item(True, {"p": 1})),
    ("x=:aGVsbG8=:", Item(b"hello")),
    ("t=*foo:bar/baz", Item(Token("*foo:bar/baz"))),
    ("l=()", InnerList(())),
    ('l=( 1  "two" )', InnerList((Item(1), Item("two")))),
    ("com.example-key=5", Item(5)),
    ("n=999999999999999", Item(999_999_999_999_999)),
])
def test_values(text: str, value) -> None:
    key = text.split("=")[0]
    assert parse_dictionary(text)[key] == value


def test_a_repeated_key_keeps_the_last_value_and_ows_around_commas() -> None:
    assert parse_dictionary("a=1 , b=2,\ta=3") == {"b": Item(2), "a": Item(3)}


@pytest.mark.parametrize("text", [
    'a="unterminated', 'a="bad \\n escape"', 'a="tab\there"', "A=1", "a=1,", "a=1,,b=2", "a=1 b=2",
    "a=1234567890123456", "a=1.2345", "a=1234567890123.5", "a=1.", "a=-", "a=?2", "a=(1 2", "a=(1,2)",
    "a=:not base64!:", "a=", "1a=1", "a=é", "a=1;", "a=1;B=2",
])
def test_malformed_payloads_are_refused_with_a_position(text: str) -> None:
    with pytest.raises(SfvError, match="at character"):
        parse_dictionary(text)


# --- the published examples mapped onto the contract ---------------------------------------


def test_8_2_2_time_interval_reports_are_heartbeats_with_their_values() -> None:
    events = [mapped(line) for line in EX_8_2_2]
    assert [e["event_type"] for e in events] == ["heartbeat"] * 5
    second = events[1]
    assert (second["play_session_id"], second["content_id"], second["seq"], second["event_ts"]) == (
        "session-id-123", "content-id-123", 2, 1764752430000)
    assert (second["bitrate_kbps"], second["buffer_ms"], second["playhead_ms"]) == (4200, 6000, 29188)
    assert second["content_type"] == "vod"  # st=v
    assert second["custom"]["cmcd_e"] == "t" and second["custom"]["cmcd_sta"] == "p"
    assert second["custom"]["cmcd_mtp"] == "(87000;v 49000;a)" and second["custom"]["cmcd_h"] == "example.com"
    assert events[0]["custom"]["cmcd_su"] == "?1"
    for event in events:
        assert validate_event({**event, "received_ts": event["event_ts"]}) == []


def test_8_2_5_and_8_2_6_state_changes_become_event_types() -> None:
    stall, resume = (mapped(line) for line in EX_8_2_5)
    assert (stall["event_type"], resume["event_type"]) == ("buffer_start", "playing")
    assert "cmcd_sta" not in stall["custom"] and stall["custom"]["cmcd_e"] == "ps"
    seek = mapped(EX_8_2_6)
    assert (seek["event_type"], seek["playhead_ms"], seek["buffer_ms"]) == ("seek_start", 30000, 0)


def test_every_state_maps_to_its_event_type() -> None:
    expected = {"s": "play_request", "p": "playing", "k": "seek_start", "r": "buffer_start", "a": "pause",
                "e": "ended", "f": "error", "q": "view_end", "w": "heartbeat", "d": "heartbeat"}
    for state, event_type in expected.items():
        event = mapped(f'e=ps,sid="s",cid="c",sn=1,ts=1764269150000,sta={state}')
        assert event["event_type"] == event_type, state
        assert validate_event({**event, "received_ts": 1764269150000}) == [], state


def test_8_2_4_an_error_report_and_8_1_5_a_fatal_state() -> None:
    error = mapped(EX_8_2_4)
    assert (error["event_type"], error["error_code"], error["error_fatal"]) == ("error", "CODEC_NOT_SUPPORTED", False)
    fatal = mapped(EX_8_1_5[1].replace("sta=f", "e=ps,sta=f"))
    assert (fatal["event_type"], fatal["error_code"], fatal["error_fatal"]) == ("error", "DRM_NOT_SUPPORTED", True)
    assert "PLAYBACK_FAILED" in fatal["error_message"]


def test_8_2_8_ad_reports() -> None:
    events = [mapped(line) for line in EX_8_2_8]
    assert [e["event_type"] for e in events] == ["ad_break_start", "ad_start", "ad_end", "ad_break_end"]
    assert events[1]["ad_id"] == "ad-001" and events[1]["ad_break_id"] == events[0]["ad_break_id"]


def test_8_2_3_and_8_2_7_other_reports_are_heartbeats_keeping_their_keys() -> None:
    response = mapped(EX_8_2_3)
    assert response["event_type"] == "heartbeat"
    assert response["custom"]["cmcd_url"] == "video/segment-5.m4v" and response["custom"]["cmcd_ttfb"] == "180"
    assert mapped(EX_8_2_7)["custom"]["cmcd_e"] == "sk"


def test_event_id_is_deterministic_per_session_and_sequence_number() -> None:
    first = mapped(EX_8_2_2[1])
    again = mapped(EX_8_2_2[1].replace("pt=29188", "pt=29190"))  # a retried report, say re-encoded
    other = mapped(EX_8_2_2[2])
    assert first["event_id"] == again["event_id"] != other["event_id"]
    assert mapped(EX_8_2_2[1], viewer_id=None)["viewer_id"] == "cmcd-sid:session-id-123"


def test_reports_without_a_session_are_rejected_and_without_sn_kept_with_seq_0() -> None:
    outcome = ingest_cmcd("\n".join([EX_8_2_1, EX_8_2_6, *EX_8_2_5]).encode(),
                          limits=Limits(1 << 20, 500, 1 << 16), received_ms=1764269150529 + 5000, app_id="app",
                          user_agent=None, viewer_id="vw", content_type=None)
    (rejected,) = outcome.rejected  # 8.2.1 names no session nor content
    assert rejected.index == 0
    assert {(v["field"], v["reason"]) for v in rejected.violations} == {
        ("play_session_id", "missing_field"), ("content_id", "missing_field")}
    assert [(e["event_type"], e["seq"]) for e in outcome.accepted] == [
        ("seek_start", 0), ("buffer_start", 0), ("playing", 0)]
    assert outcome.accepted[0]["event_id"] == mapped(EX_8_2_6)["event_id"]  # the same line, the same id
    assert len({e["event_id"] for e in outcome.accepted}) == 3
    assert MALFORMED_CMCD not in {r.reason for r in outcome.rejected}


# --- the user agent (ingest.device_of, through ua-parser) ---------------------------------


@pytest.mark.parametrize(("agent", "expected"), [
    ("Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36",
     {"device_type": "tv", "os_name": "Tizen"}),
    ("Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)",
     {"device_type": "console"}),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
     {"device_type": "desktop", "os_name": "Windows"}),
    ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
     {"device_type": "tablet", "os_name": "iOS"}),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
     {"device_type": "mobile", "os_name": "Android"}),
    ("curl/8.5.0", {"device_type": "other"}),
])
def test_the_user_agent_gives_device_type_and_os(agent: str, expected: dict) -> None:
    found = device_of(agent)
    assert {key: found[key] for key in expected} == expected
    assert found["device_type"] in ("tv", "mobile", "tablet", "desktop", "console", "other")
