"""Alerts: the outbox, immediate and digest emails, subscribers and unsubscribe tokens.

The cycle calls `queue_alerts` inside the transaction that saves a match; the
scheduler (or `newsmon alerts send|digest`) calls `send_pending` and
`send_digests`. Modules: `subscribers` (who gets what), `outbox` (queue, claim,
send, record), `digest` (daily digests), `stories` (what an email shows),
`render` (templates -> EmailMessage), `headers` (clean header values, and the
re-parse check no message skips), `smtp` (the server), `tokens` (signed links).
"""

from pipeline.alerts.digest import send_digests
from pipeline.alerts.outbox import SendReport, queue_alerts, send_pending
from pipeline.alerts.subscribers import (
    ImportReport,
    Subscriber,
    SubscriberError,
    add_subscriber,
    import_subscribers_csv,
    list_subscribers,
    remove_subscriber,
    unsubscribe,
    update_subscriber,
)

__all__ = [
    "ImportReport",
    "SendReport",
    "Subscriber",
    "SubscriberError",
    "add_subscriber",
    "import_subscribers_csv",
    "list_subscribers",
    "queue_alerts",
    "remove_subscriber",
    "send_digests",
    "send_pending",
    "unsubscribe",
    "update_subscriber",
]
