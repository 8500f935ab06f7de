"""Drill: the alerts a real cycle queued, sent through an SMTP server that fails mid-batch."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from pipeline.alerts import add_subscriber, send_pending
from pipeline.ingest.cycle import run_cycle
from tests.drills.conftest import DEMO_RELEVANT, demo_sources
from tests.support.smtp import SmtpServer

SUBSCRIBERS = ("ana@example.org", "ben@example.org")


@pytest.fixture
def settings(settings):
    """Sending is under test here, not batching: a queued alert is due at the next pass."""
    return settings.replace(alert_batch_minutes=0)


def _cycle_with_alerts(settings, db_url: str, demo_site: str, tmp_path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        for email in SUBSCRIBERS:
            add_subscriber(conn, email=email, watchlists=["venezuela"])
        conn.execute("UPDATE subscribers SET created_at = %s",  # before the demo's dates
                     (datetime(2026, 11, 1, tzinfo=UTC),))
    run_cycle(settings.replace(alert_window_hours=24 * 365 * 100),
              sources=demo_sources(demo_site, tmp_path), db_url=db_url)


def _alerts(db_url: str) -> list[tuple[str, str, str | None]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT s.email, al.status, al.message_id FROM alerts al "
                            "JOIN subscribers s ON s.id = al.subscriber_id ORDER BY al.id"
                            ).fetchall()


def _message_ids(server: SmtpServer) -> Counter:
    return Counter(str(m.message["Message-ID"]) for m in server.messages)


def test_refusal_outage_and_dropped_data_then_every_alert_exactly_once(
        settings, db_url, demo_site, tmp_path) -> None:
    _cycle_with_alerts(settings, db_url, demo_site, tmp_path)
    start = datetime.now(UTC) + timedelta(minutes=1)
    with SmtpServer() as smtp:
        settings = smtp.configure(settings)
        # One email per subscriber, carrying all their alerts.
        smtp.refuse(451, times=1)  # the first email: "try again later"
        smtp.go_down_after(1)  # the server dies on the second
        refused_then_down = send_pending(db_url, settings, now=start)
        while_down = send_pending(db_url, settings, now=start + timedelta(hours=1))
        smtp.start()  # back on the same port
        smtp.drop_connection(times=1)  # ... but hangs up mid-DATA once more
        dropped = send_pending(db_url, settings, now=start + timedelta(hours=2))
        recovered = send_pending(db_url, settings, now=start + timedelta(hours=3))
        received = _message_ids(smtp)
        recipients = Counter((m.rcpt_tos[0], str(m.message["Subject"])) for m in smtp.messages)

    expected = len(SUBSCRIBERS) * DEMO_RELEVANT
    assert (refused_then_down.sent, refused_then_down.retrying) == (0, expected)
    assert refused_then_down.outage and while_down.outage
    assert while_down.sent == 0 and dropped.sent == 0 and dropped.outage
    assert recovered.sent == expected and recovered.emails == len(SUBSCRIBERS)
    assert recovered.outage is None
    rows = _alerts(db_url)
    assert len(rows) == expected and {status for _e, status, _m in rows} == {"sent"}
    assert received == Counter({message_id: 1 for _e, _s, message_id in rows})
    assert len(recipients) == len(SUBSCRIBERS) and set(recipients.values()) == {1}
    assert Counter(email for email, *_ in rows) == {e: DEMO_RELEVANT for e in SUBSCRIBERS}


def test_sender_crash_after_the_server_accepted_resends_one_message_with_its_message_id(
        settings, db_url, demo_site, tmp_path, pg_admin_url) -> None:
    """The one ambiguous case: the server took the message, the sender died before
    recording it. It is sent again on the next pass, under the same Message-ID."""
    _cycle_with_alerts(settings, db_url, demo_site, tmp_path)
    sender_pids: list[int] = []

    def sender_connection() -> psycopg.Connection:
        conn = psycopg.connect(db_url, autocommit=True)
        sender_pids.append(conn.info.backend_pid)
        return conn

    with SmtpServer() as smtp:
        record = smtp._record

        def accept_then_kill_the_sender(*args):
            reply = record(*args)
            if len(smtp.messages) == 1:  # the sender's database connection dies now
                with psycopg.connect(pg_admin_url, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (sender_pids[0],))
            return reply

        smtp._record = accept_then_kill_the_sender
        settings = smtp.configure(settings)
        with pytest.raises(psycopg.OperationalError):
            send_pending(sender_connection, settings)
        after = send_pending(db_url, settings)
        received = _message_ids(smtp)

    expected = len(SUBSCRIBERS) * DEMO_RELEVANT
    rows = _alerts(db_url)
    assert after.sent == expected and {status for _e, status, _m in rows} == {"sent"}
    emails = len(SUBSCRIBERS)  # one per subscriber, carrying all their alerts
    assert sum(received.values()) == emails + 1  # bounded: one extra per crash
    assert sorted(received.values()) == [1] * (emails - 1) + [2]
    assert set(received) == {message_id for _e, _s, message_id in rows}
