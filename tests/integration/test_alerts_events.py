"""Immediate alerts per event: the first piece alerts, later ones only on material growth,
at most one update per 6 hours, batched per subscriber; real PostgreSQL and SMTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from pipeline.alerts import send_pending
from tests.support.newsrows import add_article, add_event, add_subscriber_row, requeue
from tests.support.smtp import SmtpServer

NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=30)


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def ana(conn) -> int:
    return add_subscriber_row(conn, "ana@example.org", created_at=LONG_AGO)


def _piece(conn, event: int, n: int, *, outlet: str, lang: str = "en", at: datetime = NOW,
           title: str | None = None):
    return add_article(conn, title=title or f"Maduro piece {n} by {outlet}",
                       url=f"https://{outlet.lower().replace(' ', '')}.example/{n}",
                       site_name=outlet, lang=lang, published_at=at, now=at, event_id=event)


def _sent(smtp: SmtpServer) -> list[tuple[str, str]]:
    return [(m.rcpt_tos[0], str(m.message["Subject"])) for m in smtp.messages]


def _body(smtp: SmtpServer, i: int = -1) -> str:
    return smtp.messages[i].message.get_body(("plain",)).get_content()


def test_pieces_of_one_event_alert_once_however_many_stories(conn, db_url, settings, smtp,
                                                             ana) -> None:
    settings = smtp.configure(settings.replace(alert_batch_minutes=0))
    event = add_event(conn)
    first = _piece(conn, event, 1, outlet="Wire", title="Maduro names new cabinet")
    others = [_piece(conn, event, n, outlet="Wire") for n in range(2, 5)]
    report = send_pending(db_url, settings, now=NOW)
    later = _piece(conn, event, 9, outlet="Diario", at=NOW + timedelta(hours=1))
    again = send_pending(db_url, settings, now=NOW + timedelta(hours=1))

    assert (first.queued, [o.queued for o in others]) == (1, [0, 0, 0])
    assert later.queued == 0  # one more outlet of one: not twice the outlets, no new language
    assert (report.emails, again.emails) == (1, 0)
    assert _sent(smtp) == [("ana@example.org", "[venezuela] Maduro names new cabinet")]


def test_first_coverage_in_a_new_language_sends_one_update_saying_so(conn, db_url, settings,
                                                                    smtp, ana) -> None:
    settings = smtp.configure(settings.replace(alert_batch_minutes=0))
    event = add_event(conn)
    _piece(conn, event, 1, outlet="Wire", title="Maduro names new cabinet")
    send_pending(db_url, settings, now=NOW)

    t1 = NOW + timedelta(hours=1)
    spanish = [_piece(conn, event, 2, outlet="El Pitazo", lang="es", at=t1),
               _piece(conn, event, 3, outlet="Efecto Cocuyo", lang="es", at=t1)]
    update = send_pending(db_url, settings, now=t1)
    t2 = NOW + timedelta(hours=2)  # within 6 hours of the update: nothing, however material
    french = _piece(conn, event, 4, outlet="Le Monde", lang="fr", at=t2)
    quiet = send_pending(db_url, settings, now=t2)
    t3 = NOW + timedelta(hours=7, minutes=1)  # 6 hours after the update: French is news
    portuguese = _piece(conn, event, 5, outlet="Folha", lang="pt", at=t3)
    second = send_pending(db_url, settings, now=t3)

    # Efecto Cocuyo's piece came while the update was pending: it queued nothing, and the
    # update, rendered when sent, names it too.
    assert [s.queued for s in spanish] == [1, 0]
    assert (update.emails, quiet.emails, french.queued) == (1, 0, 0)
    assert (portuguese.queued, second.emails) == (1, 1)
    assert _sent(smtp) == [
        ("ana@example.org", "[venezuela] Maduro names new cabinet"),
        ("ana@example.org", "[venezuela] Update: Maduro names new cabinet"),
        ("ana@example.org", "[venezuela] Update: Maduro names new cabinet"),
    ]
    assert ("UPDATE: first Spanish coverage: El Pitazo, Efecto Cocuyo; now 3 outlets (was 1)"
            in _body(smtp, 1))
    # The second update names both languages new since the first update's email.
    body = _body(smtp, 2)
    assert "first French coverage: Le Monde; first Portuguese coverage: Folha" in body
    assert body.count("Maduro names new cabinet") == 1
    for outlet in ("Wire", "El Pitazo", "Efecto Cocuyo", "Le Monde", "Folha"):
        assert outlet in body


def test_outlets_doubling_sends_an_update_and_reruns_queue_nothing(conn, db_url, settings,
                                                                   smtp, ana) -> None:
    settings = smtp.configure(settings.replace(alert_batch_minutes=0))
    event = add_event(conn)
    _piece(conn, event, 1, outlet="Wire")
    _piece(conn, event, 2, outlet="Diario")
    send_pending(db_url, settings, now=NOW)  # the email named 2 outlets

    t1 = NOW + timedelta(hours=1)
    third = _piece(conn, event, 3, outlet="Tribune", at=t1)
    fourth = _piece(conn, event, 4, outlet="Herald", at=t1)
    for _ in range(2):  # a re-run and a retried task queue the same pieces again
        assert requeue(conn, third, now=t1) == 0
        assert requeue(conn, fourth, now=t1) == 0
    send_pending(db_url, settings, now=t1)
    send_pending(db_url, settings, now=t1 + timedelta(hours=1))

    assert (third.queued, fourth.queued) == (0, 1)
    assert len(smtp.messages) == 2
    assert "UPDATE: now 4 outlets (was 2)" in _body(smtp)
    shown = conn.execute("SELECT kind, shown_outlets FROM alerts ORDER BY id").fetchall()
    assert shown == [("first", ["Diario", "Wire"]),
                     ("update", ["Diario", "Herald", "Tribune", "Wire"])]


def test_no_update_before_the_first_email_went(conn, db_url, settings, smtp, ana) -> None:
    settings = smtp.configure(settings)  # the default 5-minute batch window
    event = add_event(conn)
    _piece(conn, event, 1, outlet="Wire", title="Maduro names new cabinet")
    later = _piece(conn, event, 2, outlet="El Pitazo", lang="es",
                   at=NOW + timedelta(minutes=2))

    report = send_pending(db_url, settings, now=NOW + timedelta(minutes=5))

    assert later.queued == 0  # the pending email will show it
    assert report.emails == 1
    body = _body(smtp)
    assert "El Pitazo" in body and "English, Spanish" in body


def test_a_subscribers_alerts_within_the_batch_window_go_in_one_email(conn, db_url, settings,
                                                                     smtp, ana) -> None:
    settings = smtp.configure(settings.replace(alert_batch_minutes=5))
    add_article(conn, title="Maduro first news", url="https://a.example/1", now=NOW)
    add_article(conn, title="Tren de Aragua second news", url="https://a.example/2",
                now=NOW + timedelta(minutes=3))

    early = send_pending(db_url, settings, now=NOW + timedelta(minutes=4))
    due = send_pending(db_url, settings, now=NOW + timedelta(minutes=5))
    again = send_pending(db_url, settings, now=NOW + timedelta(minutes=30))

    assert (early.emails, due.emails, again.emails) == (0, 1, 0)
    assert due.sent == 2  # the second was still in its window, and goes with the first
    assert _sent(smtp) == [("ana@example.org", "[venezuela] Maduro first news (and 1 more)")]
    statuses = conn.execute("SELECT status, message_id FROM alerts").fetchall()
    assert {s for s, _ in statuses} == {"sent"} and len({m for _, m in statuses}) == 1
