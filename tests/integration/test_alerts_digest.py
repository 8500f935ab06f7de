"""Daily digests: due at each subscriber's local hour, built once, grouped by entity."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from pipeline.alerts import send_digests
from tests.support.newsrows import add_article, add_event, add_subscriber_row
from tests.support.smtp import SmtpServer


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def smtp_server():
    with SmtpServer() as server:
        yield server


def _utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def _plain(received) -> str:
    return received.message.get_body(("plain",)).get_content()


def test_each_digest_goes_out_at_the_subscribers_local_hour_once(
        conn, db_url, settings, smtp_server) -> None:
    settings = smtp_server.configure(settings)
    joined = _utc(13, 12)  # after both subscribers' 07:00 that day: first digest is the 14th's
    add_subscriber_row(conn, "caracas@example.org", created_at=joined, mode="daily",
                       digest_hour=7, timezone="America/Caracas")  # UTC-4
    add_subscriber_row(conn, "tokyo@example.org", created_at=joined, mode="daily",
                       digest_hour=7, timezone="Asia/Tokyo")  # UTC+9
    add_subscriber_row(conn, "now@example.org", created_at=joined)  # immediate: no digest
    add_article(conn, title="Maduro story", url="https://a.example/1", now=_utc(13, 15),
                queue=False)

    sent_at = {}
    for moment in (_utc(13, 21, 59), _utc(13, 22), _utc(13, 23), _utc(14, 10, 59),
                   _utc(14, 11), _utc(14, 11, 30), _utc(14, 21, 59)):
        before = len(smtp_server.messages)
        send_digests(db_url, settings, now=moment)
        for received in smtp_server.messages[before:]:
            sent_at.setdefault(received.rcpt_tos[0], []).append(moment)

    # 07:00 in Tokyo is 22:00 UTC the day before; 07:00 in Caracas is 11:00 UTC.
    assert sent_at == {"tokyo@example.org": [_utc(13, 22)],
                       "caracas@example.org": [_utc(14, 11)]}
    subjects = sorted(str(m.message["Subject"]) for m in smtp_server.messages)
    assert subjects == ["newsmon digest 2026-11-14: 1 event"] * 2
    digests = conn.execute("SELECT local_date::text, status FROM digests ORDER BY id").fetchall()
    assert digests == [("2026-11-14", "sent"), ("2026-11-14", "sent")]


def test_digest_groups_stories_by_entity_most_covered_first(conn, db_url, settings,
                                                             smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "ana@example.org", created_at=_utc(1, 0), mode="daily",
                       digest_hour=7, min_score=1.0)
    day = _utc(14, 3)
    arrests = add_article(conn, title="Tren de Aragua members arrested in Santiago",
                          url="https://a.example/arrests", site_name="Wire", now=day,
                          entities={"tren_de_aragua": 3})
    for i in range(2):
        add_article(conn, title="Tren de Aragua members arrested in Santiago",
                    url=f"https://copy{i}.example/arrests", site_name=f"Copy {i}", now=day,
                    entities={"tren_de_aragua": 3}, story_id=arrests.story_id)
    add_article(conn, title="Tren de Aragua extortion ring in Bogotá",
                url="https://b.example/extortion", now=day, entities={"tren_de_aragua": 2})
    decree = add_article(conn, title="Maduro decrees emergency", url="https://c.example/decree",
                         now=day, entities={"maduro": 2, "tren_de_aragua": 1})
    add_article(conn, title="Maduro decrees emergency", url="https://d.example/decree",
                now=day, entities={"maduro": 2}, story_id=decree.story_id)
    add_article(conn, title="Strike on a boat near Sucre", url="https://e.example/old-strike",
                now=day, published_at=_utc(3, 9), entities={"us_strikes": 1})
    add_article(conn, title="Maduro irrelevant", url="https://f.example/x", now=day,
                relevant=False)
    add_article(conn, title="Maduro weak", url="https://f.example/weak", now=day, score=0.5)
    add_article(conn, title="Maduro yesterday", url="https://f.example/yesterday",
                now=_utc(13, 6))  # before the period (07:00 yesterday to now)

    report = send_digests(db_url, settings, now=_utc(14, 7))

    assert (report.built, report.sent) == (1, 1)
    text = _plain(smtp_server.messages[0])
    headings = [line for line in text.splitlines() if line.startswith("== ")]
    assert headings == ["== Tren de Aragua: 2 events, 4 outlets ==",
                        "== Maduro: 1 event, 2 outlets ==",
                        "== US Strikes: 1 event, 1 outlet =="]
    items = [line for line in text.splitlines() if line.startswith("* ")]
    assert items == ["* Tren de Aragua members arrested in Santiago",
                     "* Tren de Aragua extortion ring in Bogotá",
                     "* Maduro decrees emergency",
                     "* [catch-up] Strike on a boat near Sucre"]
    assert "  - Copy 0: https://copy0.example/arrests\r\n  - Copy 1: https://copy1.example/arrests" in text
    assert str(smtp_server.messages[0].message["Subject"]) == "newsmon digest 2026-11-14: 4 events"
    html = smtp_server.messages[0].message.get_body(("html",)).get_content()
    assert html.index("Tren de Aragua") < html.index("Maduro") < html.index("US Strikes")
    assert "catch-up" in html


def test_a_story_is_listed_in_one_digest_only(conn, db_url, settings, smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "ana@example.org", created_at=_utc(1, 0), mode="daily",
                       digest_hour=7)
    first = add_article(conn, title="Maduro first day", url="https://a.example/1",
                        now=_utc(14, 3))
    send_digests(db_url, settings, now=_utc(14, 7))
    add_article(conn, title="Maduro first day", url="https://b.example/copy", now=_utc(14, 9),
                story_id=first.story_id)  # a late copy of a story already sent
    add_article(conn, title="Maduro second day", url="https://a.example/2", now=_utc(14, 20))
    quiet = send_digests(db_url, settings, now=_utc(14, 21))
    send_digests(db_url, settings, now=_utc(15, 7))

    items = [[line for line in _plain(m).splitlines() if line.startswith("* ")]
             for m in smtp_server.messages]
    assert quiet.sent == 0
    assert items == [["* Maduro first day"], ["* Maduro second day"]]


def test_an_article_committed_after_a_digest_with_an_earlier_time_is_in_the_next(
        conn, db_url, settings, smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "ana@example.org", created_at=_utc(1, 0), mode="daily",
                       digest_hour=7)
    add_article(conn, title="Maduro early", url="https://a.example/early", now=_utc(14, 3))
    # A cycle's transaction stores an article before the digest is built and commits after:
    # its time (the transaction's start) is before the digest's period_end.
    with psycopg.connect(db_url) as cycle:
        cycle.execute("SELECT 1")  # open the transaction the article is written in
        add_article(cycle, title="Maduro late commit", url="https://a.example/late",
                    now=_utc(14, 6, 59), queue=False)
        first = send_digests(db_url, settings, now=_utc(14, 7))
        cycle.commit()
    second = send_digests(db_url, settings, now=_utc(15, 7))
    third = send_digests(db_url, settings, now=_utc(16, 7))

    period_end = conn.execute("SELECT min(period_end) FROM digests").fetchone()[0]
    late_at = conn.execute("SELECT discovered_at FROM articles WHERE url LIKE '%late'").fetchone()
    assert late_at[0] < period_end
    items = [[line for line in _plain(m).splitlines() if line.startswith("* ")]
             for m in smtp_server.messages]
    assert items == [["* Maduro early"], ["* [catch-up] Maduro late commit"]]
    assert (first.sent, second.sent, third.sent) == (1, 1, 0)
    assert conn.execute("SELECT article_id FROM digest_items GROUP BY article_id "
                        "HAVING count(*) > 1").fetchall() == []


def test_digests_reach_back_a_week_at_most(conn, db_url, settings, smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "ana@example.org", created_at=_utc(1, 0), mode="daily",
                       digest_hour=7)
    send_digests(db_url, settings, now=_utc(4, 7))  # nothing yet
    add_article(conn, title="Maduro eight days ago", url="https://a.example/old",
                now=_utc(6, 7))  # never digested: the sender was down from the 5th
    add_article(conn, title="Maduro six days ago", url="https://a.example/recent",
                now=_utc(8, 7, 1))

    send_digests(db_url, settings, now=_utc(14, 7))

    items = [line for line in _plain(smtp_server.messages[0]).splitlines()
             if line.startswith("* ")]
    assert items == ["* Maduro six days ago"]


def test_a_day_without_stories_sends_nothing(conn, db_url, settings, smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "ana@example.org", created_at=_utc(1, 0), mode="daily",
                       digest_hour=7)

    report = send_digests(db_url, settings, now=_utc(14, 7))

    assert (report.built, report.sent, smtp_server.messages) == (1, 0, [])
    assert conn.execute("SELECT status FROM digests").fetchall() == [("skipped",)]


def test_digest_survives_an_outage_and_is_sent_once(conn, db_url, settings,
                                                     smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "ana@example.org", created_at=_utc(1, 0), mode="daily",
                       digest_hour=7)
    add_article(conn, title="Maduro story", url="https://a.example/1", now=_utc(14, 3))
    smtp_server.stop()

    down = send_digests(db_url, settings, now=_utc(14, 7))
    smtp_server.start()
    up = send_digests(db_url, settings, now=_utc(14, 7, 30))
    later = send_digests(db_url, settings, now=_utc(14, 12))

    assert (down.built, down.sent, down.outage is not None) == (1, 0, True)
    assert (up.built, up.sent, later.built, later.sent) == (0, 1, 0, 0)
    assert len(smtp_server.messages) == 1


def test_unsubscribed_daily_subscriber_gets_no_digest(conn, db_url, settings,
                                                      smtp_server) -> None:
    from pipeline.alerts import unsubscribe

    settings = smtp_server.configure(settings)
    ana = add_subscriber_row(conn, "ana@example.org", created_at=_utc(1, 0), mode="daily",
                             digest_hour=7)
    add_article(conn, title="Maduro story", url="https://a.example/1", now=_utc(14, 3))
    smtp_server.stop()
    send_digests(db_url, settings, now=_utc(14, 7))  # built, not sent
    unsubscribe(conn, ana, via="web")
    smtp_server.start()
    report = send_digests(db_url, settings, now=_utc(15, 7))

    assert (report.sent, smtp_server.messages) == (0, [])
    assert conn.execute("SELECT status FROM digests").fetchall() == [("skipped",)]


def test_a_digest_lists_an_event_once_with_all_its_outlets(conn, db_url, settings,
                                                           smtp_server) -> None:
    settings = smtp_server.configure(settings)
    add_subscriber_row(conn, "ana@example.org", created_at=_utc(1, 0), mode="daily",
                       digest_hour=7)
    day = _utc(14, 3)
    event = add_event(conn, first_seen_at=day)
    add_article(conn, title="Tren de Aragua leader arrested in Chile",
                url="https://wire.example/arrest", site_name="Wire", now=day, event_id=event)
    add_article(conn, title="Capturan en Chile a un cabecilla del Tren de Aragua",
                url="https://elpitazo.example/captura", site_name="El Pitazo", lang="es",
                now=day, event_id=event)
    add_article(conn, title="Maduro decrees emergency", url="https://c.example/decree", now=day)

    send_digests(db_url, settings, now=_utc(14, 7))

    text = _plain(smtp_server.messages[0])
    items = [line for line in text.splitlines() if line.startswith("* ")]
    assert sorted(items) == ["* Maduro decrees emergency",
                             "* Tren de Aragua leader arrested in Chile"]
    assert "  - Wire (English): https://wire.example/arrest" in text
    assert "  - El Pitazo (Spanish): https://elpitazo.example/captura" in text
    assert str(smtp_server.messages[0].message["Subject"]) == "newsmon digest 2026-11-14: 2 events"
