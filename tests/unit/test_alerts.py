"""Alert rules: the TOML file, the check over merged rows, the webhook sender."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.monitor.alerts import DEFAULT_RULES, Rule, WebhookSender, load_rules, message
from consumers.monitor.rows import WindowRow
from ottlake.errors import ConfigError
from tests.fixtures_monitor import WebhookReceiver


def test_the_shipped_rules() -> None:
    rules = {rule.name: rule for rule in load_rules()}
    assert load_rules(DEFAULT_RULES) == list(rules.values())
    cdn = rules["cdn-rebuffer-ratio"]
    assert (cdn.metric, cdn.op, cdn.threshold, cdn.windows, cdn.by, cdn.min_active_sessions) == (
        "rebuffer_ratio", ">", 0.02, 5, "cdn", 50)
    assert (rules["start-failure-rate"].metric, rules["start-failure-rate"].threshold) == ("start_failure_rate", 0.05)


@pytest.mark.parametrize(("text", "says"), [
    ("not toml [", "not valid TOML"),
    ("x = 1", "expected one or more [[rule]]"),
    ('[[rule]]\nname = "a"\nmetric = "rebuffer_ratio"\nop = ">"', "missing threshold"),
    ('[[rule]]\nname = "a"\nmetric = "stall_rate"\nop = ">"\nthreshold = 1', "unknown metric 'stall_rate'"),
    ('[[rule]]\nname = "a"\nmetric = "rebuffer_ratio"\nop = "=="\nthreshold = 1', "op must be one of"),
    ('[[rule]]\nname = "a"\nmetric = "rebuffer_ratio"\nop = ">"\nthreshold = 1\nby = "isp"', "by must be all"),
    ('[[rule]]\nname = "a"\nmetric = "rebuffer_ratio"\nop = ">"\nthreshold = "2%"', "threshold must be a number"),
    ('[[rule]]\nname = "a"\nmetric = "rebuffer_ratio"\nop = ">"\nthreshold = 1\nwindows = 0', "windows must be"),
    ('[[rule]]\nname = "a"\nmetric = "rebuffer_ratio"\nop = ">"\nthreshold = 1\nwindow = 5', "unknown key(s) window"),
    ('[[rule]]\nname = "a"\nmetric = "rebuffer_ratio"\nop = ">"\nthreshold = 1\n' * 2, "names must be unique"),
])
def test_bad_rule_files_say_what_is_wrong(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="alert rules") as caught:
        load_rules(path)
    assert says in str(caught.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_rules(tmp_path / "nope.toml")


def _row(**sums: int) -> WindowRow:
    row = WindowRow("cdn#x", 0, windows=5)
    for name, value in sums.items():
        setattr(row, name, value)
    return row


def test_rule_check_uses_ratios_of_sums_and_the_gates() -> None:
    rule = Rule("r", "rebuffer_ratio", ">", 0.02, windows=5, by="cdn", min_active_sessions=50)
    assert rule.check(_row(active_sessions=300, play_time_ms=97_000, rebuffer_time_ms=3_000)) == (True, 0.03)
    assert rule.check(_row(active_sessions=300, play_time_ms=98_000, rebuffer_time_ms=2_000)) == (False, 0.02)
    # 245 sessions over 5 windows is a mean of 49 per window: under the gate.
    assert rule.check(_row(active_sessions=245, play_time_ms=90_000, rebuffer_time_ms=10_000))[0] is False
    assert rule.check(None) == (False, None)
    failures = Rule("f", "start_failure_rate", ">", 0.05, min_attempts=100)
    assert failures.check(_row(starts=90, start_failures=10)) == (True, 0.1)
    assert failures.check(_row(starts=80, start_failures=10))[0] is False  # 90 attempts
    assert failures.check(_row()) == (False, None)  # no attempts: a null rate never fires


def test_message_names_rule_series_value_and_window() -> None:
    rule = Rule("cdn-rebuffer-ratio", "rebuffer_ratio", ">", 0.02, by="cdn")
    text = message(rule, "cdn#fastly", firing=True, value=0.0734, window_start_ms=1_772_366_400_000)
    assert text == ("[FIRING] cdn-rebuffer-ratio: cdn fastly: rebuffer_ratio = 0.0734 "
                    "(rebuffer_ratio > 0.02 over 5 min, each cdn; window 2026-03-01T12:00:00Z)")


def test_webhook_posts_slack_json(webhook: WebhookReceiver) -> None:
    assert WebhookSender(webhook.url).send("hello") is True
    assert [message.body for message in webhook.messages] == [{"text": "hello"}]


def test_webhook_retries_server_errors_a_bounded_number_of_times(webhook: WebhookReceiver) -> None:
    webhook.status = 503
    slept: list[float] = []
    sender = WebhookSender(webhook.url, attempts=3, backoff_s=0.1, sleep=slept.append)
    assert sender.send("down") is False
    assert len(webhook.messages) == 3 and slept == [0.1, 0.2]


def test_webhook_does_not_retry_a_client_error(webhook: WebhookReceiver) -> None:
    webhook.status = 404
    assert WebhookSender(webhook.url, sleep=lambda _: None).send("x") is False
    assert len(webhook.messages) == 1


def test_webhook_unreachable_gives_up(webhook: WebhookReceiver) -> None:
    from tests.fixtures_stack import free_port

    sender = WebhookSender(f"http://127.0.0.1:{free_port()}/hook", attempts=2, timeout_s=1, sleep=lambda _: None)
    assert sender.send("x") is False
