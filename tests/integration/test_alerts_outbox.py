"""The outbox against a real PostgreSQL and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from pipeline.alerts import send_pending
from pipeline.alerts.outbox import MAX_ATTEMPTS
from tests.support.newsrows import add_article, add_subscriber_row, fold_verbatim_copy, requeue
from tests.support.smtp import SmtpServer, make_tls_files

NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=30)


@pytest.fixture
def settings(settings):
    """Delivery is under test here, not batching: a queued alert is due at once."""
    return settings.replace(alert_batch_minutes=0)


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def smtp_server():
    with SmtpServer() as server:
        yield server


def _rows(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        """SELECT s.email, a.story_id, a.status, a.attempts, a.message_id, a.smtp_response,
                  a.last_error
           FROM alerts a JOIN subscribers s ON s.id = a.subscriber_id ORDER BY a.id""").fetchall()


def _delivered(server: SmtpServer) -> Counter:
    """How many times each (recipient, subject) arrived."""
    return Counter((m.rcpt_tos[0], str(m.message["Subject"])) for m in server.messages)


def test_one_email_per_subscriber_and_story_however_many_copies_and_reruns(
        conn, db_url, settings, smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "ana@example.org", created_at=LONG_AGO)
    add_subscriber_row(conn, "ben@example.org", created_at=LONG_AGO)
    first = add_article(conn, title="Maduro announces cabinet reshuffle",
                        url="https://wire.example/maduro-cabinet", site_name="Wire",
                        published_at=NOW - timedelta(hours=1), now=NOW)
    copies = [add_article(conn, title="Maduro announces cabinet reshuffle",
                          url=f"https://outlet{i}.example/maduro", site_name=f"Outlet {i}",
                          published_at=NOW - timedelta(hours=1), now=NOW,
                          story_id=first.story_id) for i in range(3)]
    other = add_article(conn, title="Tren de Aragua leader arrested in Chile",
                        url="https://wire.example/tda-arrest", published_at=NOW, now=NOW)
    for _ in range(2):  # a re-run and a retried task queue the same articles again
        for stored in (first, *copies, other):
            assert requeue(conn, stored, now=NOW) == 0

    assert [s.queued for s in (first, *copies, other)] == [2, 0, 0, 0, 2]
    report = send_pending(db_url, settings, now=NOW)
    again = send_pending(db_url, settings, now=NOW + timedelta(hours=1))

    assert (report.sent, report.emails, again.sent) == (4, 2, 0)
    # Both stories reach each subscriber in one email (they were queued together).
    assert _delivered(smtp_server) == {
        ("ana@example.org", "[venezuela] Maduro announces cabinet reshuffle (and 1 more)"): 1,
        ("ben@example.org", "[venezuela] Maduro announces cabinet reshuffle (and 1 more)"): 1,
    }
    body = smtp_server.messages[0].message.get_body(("plain",)).get_content()
    assert body.count("Maduro announces cabinet reshuffle") == 1  # the copies are not repeated
    assert body.count("Tren de Aragua leader arrested in Chile") == 1
    # The copies show up as other outlets carrying the story.
    assert "Outlet 0" in body and "Outlet 2" in body


def test_the_email_names_every_outlet_carrying_the_story(conn, db_url, settings,
                                                        smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "ana@example.org", created_at=LONG_AGO)
    first = add_article(conn, title="Maduro speaks", url="https://www.wire.example/a", now=NOW)
    add_article(conn, title="Maduro speaks", url="https://diario.example/b", site_name="Diario",
                now=NOW, story_id=first.story_id)
    fold_verbatim_copy(conn, first.story_id, "Agencia Uno")  # exact copy, no article row

    send_pending(db_url, settings, now=NOW)

    message = smtp_server.messages[0].message
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "  - wire.example: https://www.wire.example/a" in text  # no site name: the host
    assert "  - Diario: https://diario.example/b\r\n  - Agencia Uno: (no web link)\r\n" in text
    assert ('<a href="https://diario.example/b" style="color:#0b4f8a">Diario</a></span> &middot; '
            '<span style="white-space:nowrap">Agencia Uno</span></p>') in html


def test_message_id_and_smtp_reply_are_recorded(conn, db_url, settings, smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "ana@example.org", created_at=LONG_AGO)
    add_article(conn, title="Maduro speaks", url="https://a.example/1", now=NOW)

    send_pending(db_url, settings, now=NOW)

    [(_email, _story, status, attempts, message_id, reply, error)] = _rows(conn)
    received = smtp_server.messages[0].message
    assert (status, attempts, error) == ("sent", 1, None)
    assert message_id == received["Message-ID"]
    assert reply == "250 2.0.0 Ok: queued as T00001"


def test_only_eligible_subscribers_are_queued(conn, db_url, settings, smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "all@example.org", created_at=LONG_AGO)
    add_subscriber_row(conn, "picky@example.org", created_at=LONG_AGO, min_score=9.0)
    add_subscriber_row(conn, "spanish@example.org", created_at=LONG_AGO, languages=("es",))
    add_subscriber_row(conn, "digest@example.org", created_at=LONG_AGO, mode="daily")
    add_subscriber_row(conn, "sports@example.org", created_at=LONG_AGO, watchlists=("sports",))
    add_subscriber_row(conn, "new@example.org", created_at=NOW - timedelta(minutes=30))
    gone = add_subscriber_row(conn, "gone@example.org", created_at=LONG_AGO)
    conn.execute("UPDATE subscribers SET active = false WHERE id = %s", (gone,))

    add_article(conn, title="Maduro in English", url="https://a.example/en", lang="en",
                score=5.0, published_at=NOW - timedelta(hours=2), now=NOW)
    add_article(conn, title="Maduro en español", url="https://a.example/es", lang="es",
                score=9.5, published_at=NOW - timedelta(minutes=5), now=NOW)
    send_pending(db_url, settings, now=NOW)

    got = sorted((m.rcpt_tos[0], str(m.message["Subject"])) for m in smtp_server.messages)
    assert got == [
        ("all@example.org", "[venezuela] Maduro in English (and 1 more)"),
        # Joined after "Maduro in English" was published, before newsmon first saw it.
        ("new@example.org", "[venezuela] Maduro in English (and 1 more)"),
        ("picky@example.org", "[venezuela] Maduro en español"),
        ("spanish@example.org", "[venezuela] Maduro en español"),
    ]


def test_no_storm_from_the_past(conn, db_url, settings, smtp_server) -> None:
    settings = smtp_server.configure(settings.replace(alert_window_hours=24.0))
    add_subscriber_row(conn, "ana@example.org", created_at=LONG_AGO)
    backlog = [add_article(conn, title=f"Maduro backlog {i}", url=f"https://new.example/{i}",
                           published_at=NOW - timedelta(days=2 + i), now=NOW,
                           window_hours=settings.alert_window_hours) for i in range(20)]
    undated = add_article(conn, title="Maduro undated", url="https://new.example/undated",
                          published_at=None, now=NOW)
    fresh = add_article(conn, title="Maduro fresh", url="https://new.example/fresh",
                        published_at=NOW - timedelta(hours=23), now=NOW)

    send_pending(db_url, settings, now=NOW)

    assert [b.queued for b in backlog] == [0] * 20
    assert (undated.queued, fresh.queued) == (1, 1)
    (message,) = [m.message for m in smtp_server.messages]
    body = message.get_body(("plain",)).get_content()
    assert str(message["Subject"]) == "[venezuela] Maduro undated (and 1 more)"
    assert "Maduro fresh" in body and "backlog" not in body


def test_outage_mid_batch_then_recovery_delivers_every_alert_exactly_once(
        conn, db_url, settings, smtp_server) -> None:
    settings = smtp_server.configure(settings)
    for name in ("ana", "ben", "cy"):
        add_subscriber_row(conn, f"{name}@example.org", created_at=LONG_AGO)
    for i in range(4):
        add_article(conn, title=f"Maduro story {i}", url=f"https://a.example/{i}", now=NOW)
    smtp_server.go_down_after(1)  # one email (four alerts) accepted, then the server dies

    during = send_pending(db_url, settings, now=NOW)
    still_down = send_pending(db_url, settings, now=NOW + timedelta(minutes=5))
    pending_while_down = conn.execute(
        "SELECT count(*) FROM alerts WHERE status = 'pending'").fetchone()[0]
    smtp_server.start()
    after = send_pending(db_url, settings, now=NOW + timedelta(minutes=10))

    assert (during.sent, still_down.sent, after.sent) == (4, 0, 8)
    assert (during.emails, after.emails) == (1, 2)
    assert during.outage and still_down.outage and after.outage is None
    assert pending_while_down == 8
    delivered = _delivered(smtp_server)
    assert len(delivered) == 3 and set(delivered.values()) == {1}
    assert {row[2] for row in _rows(conn)} == {"sent"}


def test_connection_dropped_before_the_reply_is_retried_not_lost(
        conn, db_url, settings, smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "ana@example.org", created_at=LONG_AGO)
    add_article(conn, title="Maduro one", url="https://a.example/1", now=NOW)
    add_article(conn, title="Maduro two", url="https://a.example/2", now=NOW)
    smtp_server.drop_connection(times=1)

    first = send_pending(db_url, settings, now=NOW)
    too_early = send_pending(db_url, settings, now=NOW + timedelta(seconds=30))
    later = send_pending(db_url, settings, now=NOW + timedelta(minutes=2))

    # The dropped email (both alerts) waits out its backoff, then goes once.
    assert (first.sent, too_early.sent, later.sent) == (0, 0, 2)
    assert first.outage is not None
    assert list(_delivered(smtp_server).values()) == [1]
    assert [(r[2], r[3]) for r in _rows(conn)] == [("sent", 2), ("sent", 2)]


def test_a_connection_the_server_closed_between_messages_costs_nothing(
        conn, db_url, settings) -> None:
    for i in range(3):
        add_subscriber_row(conn, f"reader{i}@example.org", created_at=LONG_AGO)
    add_article(conn, title="Maduro speaks", url="https://a.example/1", now=NOW)
    with SmtpServer(messages_per_connection=1) as server:
        report = send_pending(db_url, server.configure(settings), now=NOW)
        received = len(server.messages)

    assert (report.sent, report.outage, received) == (3, None, 3)
    assert [(r[2], r[3]) for r in _rows(conn)] == [("sent", 1)] * 3


def test_temporary_refusals_back_off_then_give_up_visibly(
        conn, db_url, settings, smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "ana@example.org", created_at=LONG_AGO)
    add_article(conn, title="Maduro refused", url="https://a.example/1", now=NOW)
    smtp_server.refuse(451)

    moment, waits = NOW, []
    for _ in range(MAX_ATTEMPTS):
        report = send_pending(db_url, settings, now=moment)
        assert report.sent == 0
        assert send_pending(db_url, settings, now=moment + timedelta(seconds=1)).retrying == 0
        due = conn.execute("SELECT next_attempt_at FROM alerts").fetchone()[0]
        waits.append(due - moment)
        moment = due

    [(_email, _story, status, attempts, _mid, _reply, error)] = _rows(conn)
    assert (status, attempts) == ("failed", MAX_ATTEMPTS)
    assert error.startswith("smtp: DATA refused: 451")
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]  # doubling backoff
    assert smtp_server.messages == []


def test_permanent_refusal_fails_at_once_and_others_still_go(
        conn, db_url, settings, smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "ana@example.org", created_at=LONG_AGO)
    add_subscriber_row(conn, "ben@example.org", created_at=LONG_AGO)
    add_article(conn, title="Maduro refused", url="https://a.example/1", now=NOW)
    smtp_server.refuse(550, "5.1.1 no such user", times=1, stage="rcpt")

    report = send_pending(db_url, settings, now=NOW)

    assert (report.sent, report.failed) == (1, 1)
    statuses = {row[0]: (row[2], row[3], row[6]) for row in _rows(conn)}
    assert statuses["ana@example.org"][0:2] == ("failed", 1)
    assert "550 5.1.1 no such user" in statuses["ana@example.org"][2]
    assert statuses["ben@example.org"][0] == "sent"


def test_two_senders_at_once_never_send_the_same_alert(conn, db_url, settings,
                                                       smtp_server) -> None:
    settings = smtp_server.configure(settings)
    for i in range(5):
        add_subscriber_row(conn, f"reader{i}@example.org", created_at=LONG_AGO)
    for i in range(8):
        add_article(conn, title=f"Maduro story {i}", url=f"https://a.example/{i}", now=NOW)
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(
        send_pending(db_url, settings, now=NOW, limit=1000))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Each subscriber's eight alerts went in one email, claimed by one sender only.
    assert (sum(r.sent for r in reports), sum(r.emails for r in reports)) == (40, 5)
    delivered = _delivered(smtp_server)
    assert len(delivered) == 5 and set(delivered.values()) == {1}
    assert {row[2] for row in _rows(conn)} == {"sent"}


def test_unsubscribed_after_queueing_gets_nothing(conn, db_url, settings, smtp_server) -> None:
    from pipeline.alerts import unsubscribe

    settings = smtp_server.configure(settings)
    ana = add_subscriber_row(conn, "ana@example.org", created_at=LONG_AGO)
    add_subscriber_row(conn, "ben@example.org", created_at=LONG_AGO)
    add_article(conn, title="Maduro speaks", url="https://a.example/1", now=NOW)

    assert unsubscribe(conn, ana, via="cli") is True
    report = send_pending(db_url, settings, now=NOW)

    assert [m.rcpt_tos for m in smtp_server.messages] == [("ben@example.org",)]
    assert report.sent == 1
    assert {r[0]: r[2] for r in _rows(conn)} == {"ana@example.org": "skipped",
                                                 "ben@example.org": "sent"}


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_encrypted_and_authenticated_delivery(conn, db_url, settings, tmp_path, monkeypatch,
                                              security) -> None:
    tls = make_tls_files(tmp_path / "tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.cert))  # how an operator trusts a private CA
    add_subscriber_row(conn, "ana@example.org", created_at=LONG_AGO)
    add_article(conn, title="Maduro speaks", url="https://a.example/1", now=NOW)
    with SmtpServer(security=security, tls=tls, users={"newsmon": "s3cret"}) as server:
        wrong = server.configure(settings).replace(smtp_user="newsmon", smtp_password="nope")
        refused = send_pending(db_url, wrong, now=NOW)
        right = wrong.replace(smtp_password="s3cret")
        report = send_pending(db_url, right, now=NOW)
        received = server.messages

    assert refused.sent == 0 and "login" in refused.outage
    assert report.sent == 1
    assert [(m.tls, m.login) for m in received] == [(True, "newsmon")]


def test_starttls_is_never_skipped_when_the_server_does_not_offer_it(
        conn, db_url, settings, smtp_server) -> None:
    plain = smtp_server.configure(settings).replace(smtp_security="starttls")
    add_subscriber_row(conn, "ana@example.org", created_at=LONG_AGO)
    add_article(conn, title="Maduro speaks", url="https://a.example/1", now=NOW)

    report = send_pending(db_url, plain, now=NOW)

    assert report.sent == 0 and "STARTTLS" in report.outage
    assert smtp_server.messages == []
    assert _rows(conn)[0][2:4] == ("pending", 0)
