"""Alert rules over the live rows: parsed from TOML, evaluated per closed window,
sent once when they start firing and once when they resolve.

A rule looks at the last `windows` windows of each series of its dimension,
merged into one row (ratios of sums), and fires when `metric op threshold`
holds and the volume gates pass. Which shard's processor evaluates a window does
not matter: the state lives in the live table and each (rule, series, window)
applies once, in window order (store.LiveStore.transition_alert); whoever
applies a change sends its message. See alerts.toml for the file's shape.
"""

from __future__ import annotations

import logging
import operator
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson

from consumers.monitor.rows import ALL, DIMENSIONS, METRICS, WindowRow, merge_rows, series_value
from consumers.monitor.store import LiveStore, window_sk
from ottlake.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_RULES = Path(__file__).with_name("alerts.toml")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}
_RULE_KEYS = {"name", "metric", "op", "threshold", "windows", "by", "min_active_sessions", "min_attempts"}


@dataclass(frozen=True)
class Rule:
    name: str
    metric: str
    op: Literal[">", ">=", "<", "<="]
    threshold: float
    windows: int = 5
    by: str = ALL
    # Volume gates: a ratio over a handful of sessions is noise, not an incident.
    min_active_sessions: float = 0  # mean active sessions per window
    min_attempts: int = 0  # summed over the windows

    def check(self, row: WindowRow | None) -> tuple[bool, float | None]:
        """(firing, the metric's value) for one series' merged row."""
        if row is None:
            return False, None
        value = getattr(row, self.metric)
        if row.active_sessions_per_window < self.min_active_sessions or row.attempts < self.min_attempts:
            return False, value
        return (value is not None and _OPERATORS[self.op](value, self.threshold)), value

    def describe(self) -> str:
        scope = "all traffic" if self.by == ALL else f"each {self.by}"
        return f"{self.metric} {self.op} {self.threshold:g} over {self.windows} min, {scope}"


def load_rules(path: str | Path | None = None) -> list[Rule]:
    """The rules of a TOML file (the shipped alerts.toml when None); ConfigError says what is wrong."""
    source = Path(path) if path is not None else DEFAULT_RULES
    try:
        document = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"alert rules {source}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"alert rules {source}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"alert rules {source}: not valid TOML: {exc}") from None
    entries = document.get("rule", [])
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"alert rules {source}: expected one or more [[rule]] tables")
    rules = [_rule(entry, f"alert rules {source}, rule {i + 1}") for i, entry in enumerate(entries)]
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise ConfigError(f"alert rules {source}: rule names must be unique")
    return rules


def _rule(entry: Any, where: str) -> Rule:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table")
    if unknown := sorted(set(entry) - _RULE_KEYS):
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_RULE_KEYS))})")
    for required in ("name", "metric", "op", "threshold"):
        if required not in entry:
            raise ConfigError(f"{where}: missing {required}")
    name = entry["name"]
    if not isinstance(name, str) or not name or "#" in name:
        raise ConfigError(f"{where}: name must be a non-empty string without '#'")
    where = f"{where} ({name})"
    if entry["metric"] not in METRICS:
        raise ConfigError(f"{where}: unknown metric {entry['metric']!r} (known: {', '.join(METRICS)})")
    if entry["op"] not in _OPERATORS:
        raise ConfigError(f"{where}: op must be one of {', '.join(_OPERATORS)}")
    by = entry.get("by", ALL)
    if by != ALL and by not in DIMENSIONS:
        raise ConfigError(f"{where}: by must be {ALL} or one of {', '.join(DIMENSIONS)}")
    numbers = {key: entry[key] for key in ("threshold", "min_active_sessions") if key in entry}
    for key, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: {key} must be a number")
    for key in ("windows", "min_attempts"):
        value = entry.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "windows" else 0):
            raise ConfigError(f"{where}: {key} must be an integer >= {1 if key == 'windows' else 0}")
    return Rule(name=name, metric=entry["metric"], op=entry["op"], threshold=float(entry["threshold"]),
                windows=entry.get("windows", 5), by=by,
                min_active_sessions=float(entry.get("min_active_sessions", 0)),
                min_attempts=entry.get("min_attempts", 0))


# --- messages --------------------------------------------------------------------------


def message(rule: Rule, series: str, *, firing: bool, value: float | None, window_start_ms: int) -> str:
    who = "all traffic" if series == ALL else f"{rule.by} {series_value(series)}"
    shown = "n/a" if value is None else f"{value:.4g}"
    head = "FIRING" if firing else "RESOLVED"
    return (f"[{head}] {rule.name}: {who}: {rule.metric} = {shown} "
            f"({rule.describe()}; window {window_sk(window_start_ms)})")


class Sender(Protocol):
    def send(self, text: str) -> bool: ...


@dataclass
class WebhookSender:
    """POST {"text": ...} to a Slack-compatible incoming webhook.

    Bounded: `attempts` tries with a `timeout_s` each, backing off on connection
    errors, 429 and 5xx; any other answer is final (a 4xx will not get better)."""

    url: str
    timeout_s: float = 5.0
    attempts: int = 3
    backoff_s: float = 0.5
    sleep: Callable[[float], None] = time.sleep

    def send(self, text: str) -> bool:
        body = orjson.dumps({"text": text})
        for attempt in range(self.attempts):
            request = urllib.request.Request(self.url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:  # noqa: S310 (a configured URL)
                    answer.read()
                return True
            except urllib.error.HTTPError as exc:
                if exc.code != 429 and exc.code < 500:
                    logger.error("alert webhook refused the message: HTTP %s", exc.code)
                    return False
                problem = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                problem = str(exc)
            logger.warning("alert webhook attempt %d/%d failed: %s", attempt + 1, self.attempts, problem)
            if attempt + 1 < self.attempts:
                self.sleep(self.backoff_s * 2**attempt)
        return False


class LogSender:
    """Where messages go without a webhook URL: the log."""

    def send(self, text: str) -> bool:
        logger.warning("alert (no webhook configured): %s", text)
        return True


@dataclass
class AlertCounters:
    evaluations: int = 0
    fired: int = 0
    resolved: int = 0
    send_failures: int = 0


@dataclass
class Alerting:
    """Evaluates the rules over the store's merged rows, one window at a time."""

    store: LiveStore
    rules: list[Rule]
    sender: Sender
    window_ms: int
    counters: AlertCounters = field(default_factory=AlertCounters)

    def evaluate_window(self, window_start_ms: int) -> None:
        for rule in self.rules:
            series_names = [ALL] if rule.by == ALL else self.store.series(rule.by)
            since = window_start_ms - (rule.windows - 1) * self.window_ms
            for series in series_names:
                rows = self.store.rows(series, since_ms=since, until_ms=window_start_ms)
                firing, value = rule.check(merge_rows(rows, series=series))
                self.counters.evaluations += 1
                before = self.store.transition_alert(rule.name, series, window_ms=window_start_ms,
                                                     firing=firing, value=value)
                if before is None or before == firing:
                    continue
                if firing:
                    self.counters.fired += 1
                else:
                    self.counters.resolved += 1
                text = message(rule, series, firing=firing, value=value, window_start_ms=window_start_ms)
                if not self.sender.send(text):
                    self.counters.send_failures += 1
                    logger.error("alert not delivered: %s", text)
