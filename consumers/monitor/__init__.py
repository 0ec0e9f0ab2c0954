"""The real-time QoE monitor: one-minute windows per CDN, device type and title,
written to the live table, with alert rules (DESIGN.md, consumers/).

`make_processor(settings)` is what both runners call (the KCL entry script for
the MultiLangDaemon, and the in-process driver), so they build the same thing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consumers.monitor.processor import QoeMonitorProcessor
    from ottlake.settings import Settings


def make_processor(settings: Settings) -> QoeMonitorProcessor:
    """A monitor for one shard: the live table, the rules file and the webhook of `settings`."""
    from consumers.monitor.alerts import Alerting, LogSender, WebhookSender, load_rules
    from consumers.monitor.processor import QoeMonitorProcessor
    from consumers.monitor.store import LiveStore
    from consumers.monitor.windows import WINDOW_MS

    store = LiveStore(settings.aws().client("dynamodb"), settings.live_table)
    rules = load_rules(settings.alert_rules)  # the shipped alerts.toml when unset
    sender = WebhookSender(settings.alert_webhook_url) if settings.alert_webhook_url else LogSender()
    alerting = Alerting(store=store, rules=rules, sender=sender, window_ms=WINDOW_MS)
    return QoeMonitorProcessor(store=store, alerting=alerting, lateness_ms=round(settings.monitor_lateness_s * 1000))
