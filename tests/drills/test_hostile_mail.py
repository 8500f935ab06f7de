"""Drill: a feed title and a subscriber name that try to write headers into alert emails.

The payload is an RFC 2047 encoded word hiding CR LF, a second List-Unsubscribe
and a forged body: on Python 3.11.7 (CVE-2024-6923 class) the email package wrote
those as real lines. Here it goes through a whole cycle (feed, page, store, match,
queue) and a real SMTP server on 127.0.0.1, which parses what it received.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pipeline.alerts import add_subscriber, send_pending
from pipeline.demo import SITE_DIR
from pipeline.ingest.cycle import run_cycle
from pipeline.sources import load_sources_file
from tests.drills.conftest import source_entry
from tests.support.loopback import LoopbackServer
from tests.support.smtp import SmtpServer

HIDDEN = b"\r\nList-Unsubscribe: <https://evil>\r\n\r\nYour account is locked"
PAYLOAD = f"Maduro Venezuela =?utf-8?b?{base64.b64encode(HIDDEN).decode()}?="
HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
           "List-Unsubscribe-Post", "Auto-Submitted", "MIME-Version", "Content-Type"]
DEMO_PAGE = "caribbean-wire/2026/11/tren-de-aragua-arrests.html"


@pytest.fixture
def settings(settings):
    """Sending is under test here, not batching: a queued alert is due at the next pass."""
    return settings.replace(alert_batch_minutes=0)


def _hostile_site(server: LoopbackServer) -> None:
    """A feed and a relevant page, both titled with the payload."""
    page = (SITE_DIR / DEMO_PAGE).read_text(encoding="utf-8").replace("{BASE}", server.url(""))
    headline = "Police in three states arrest suspected Tren de Aragua members"
    page = page.replace(f"{headline} | Caribbean Wire", PAYLOAD).replace(headline, PAYLOAD)
    link = server.url(f"/{DEMO_PAGE}")
    feed = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>wire</title><link>{server.url('/')}</link><item><title>{PAYLOAD}</title>"
            f"<link>{link}</link><guid>{link}</guid></item></channel></rss>")
    html, xml = {"content-type": "text/html; charset=utf-8"}, {"content-type": "application/rss+xml"}
    server.routes.update({f"/{DEMO_PAGE}": (200, html, page.encode()),
                          "/feed.xml": (200, xml, feed.encode())})


def _subscribe(db_url: str, *people: tuple[str, str | None]) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        for email, name in people:
            add_subscriber(conn, email=email, name=name, watchlists=["venezuela"])
        conn.execute("UPDATE subscribers SET created_at = %s",  # before the page's date
                     (datetime(2026, 11, 1, tzinfo=UTC),))


def _cycle(settings, db_url: str, server: LoopbackServer, tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(source_entry("Hostile wire", server.url("/feed.xml")), encoding="utf-8")
    run_cycle(settings.replace(alert_window_hours=24 * 365 * 100),
              sources=load_sources_file(sources), db_url=db_url)


def test_encoded_word_in_a_title_and_a_name_reaches_subscribers_as_text_only(
        settings, db_url, tmp_path) -> None:
    _subscribe(db_url, ("ana@example.org", f"Ana {PAYLOAD}"), ("ben@example.org", None))
    with LoopbackServer({}) as site:
        _hostile_site(site)
        _cycle(settings, db_url, site, tmp_path)
    with psycopg.connect(db_url) as conn:
        titles = [t for (t,) in conn.execute("SELECT title FROM articles").fetchall()]
    # The first defence: where titles enter, the encoded word is decoded and its CR LF made
    # spaces, so the forged header's words are stored as one line of text. (The renderer's
    # own cleaning of a raw payload is proved in tests/unit/test_alerts_render.py; the
    # subscriber's name below still carries it raw to the email.)
    assert titles and all("List-Unsubscribe" in t and not {"\r", "\n"} & set(t)
                          for t in titles)

    with SmtpServer() as smtp:
        report = send_pending(db_url, smtp.configure(settings),
                              now=datetime.now(UTC) + timedelta(minutes=1))
        received = smtp.messages

    assert (report.sent, report.failed) == (2, 0)
    assert sorted(r.rcpt_tos for r in received) == [("ana@example.org",), ("ben@example.org",)]
    for mail in received:
        message = mail.message  # parsed by the server side, as a client would
        assert message.keys() == HEADERS, mail.data[:600]
        (unsubscribe,) = message.get_all("List-Unsubscribe")
        assert unsubscribe.strip().startswith(f"<{settings.public_url}/unsubscribe/")
        # As stored: the decoded words on one line (the input cleaner also dropped the
        # `<https://evil>` it read as a tag).
        assert str(message["Subject"]) == ("[venezuela] Maduro Venezuela List-Unsubscribe: "
                                           "Your account is locked")
        assert [a.addr_spec for a in message["To"].addresses] == list(mail.rcpt_tos)
        parts = [p.get_content_type() for p in message.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        bodies = " ".join(p.get_content() for p in message.iter_parts())
        # The payload's words appear only inside the title's text, never as a body of their own.
        assert bodies.count("Your account is locked") == bodies.count(
            "List-Unsubscribe: Your account is locked") > 0
        assert "https://evil" not in bodies
        assert b"\r\nList-Unsubscribe: <https://evil>" not in mail.data
    ana = next(m.message for m in received if m.rcpt_tos == ("ana@example.org",))
    assert ana["To"].addresses[0].display_name == \
        "Ana Maduro Venezuela List-Unsubscribe https //evil Your account is locked"


def test_an_alert_that_cannot_be_written_safely_fails_alone_and_says_why(
        settings, db_url, tmp_path) -> None:
    _subscribe(db_url, ("ana@example.org", None), ("eve@example.org", None),
               ("ben@example.org", None))
    with psycopg.connect(db_url, autocommit=True) as conn:  # a row edited behind our back
        conn.execute("UPDATE subscribers SET email = %s WHERE email = 'eve@example.org'",
                     ("eve@example.org\r\nBcc: all@example.org",))
    with LoopbackServer({}) as site:
        _hostile_site(site)
        _cycle(settings, db_url, site, tmp_path)

    with SmtpServer() as smtp:
        report = send_pending(db_url, smtp.configure(settings),
                              now=datetime.now(UTC) + timedelta(minutes=1))
        received = smtp.messages
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("""SELECT s.email, al.status, al.last_error FROM alerts al
                               JOIN subscribers s ON s.id = al.subscriber_id
                               ORDER BY s.email""").fetchall()

    assert (report.sent, report.failed, report.outage) == (2, 1, None)
    assert sorted(r.rcpt_tos for r in received) == [("ana@example.org",), ("ben@example.org",)]
    assert [(email[:15], status) for email, status, _e in rows] == [
        ("ana@example.org", "sent"), ("ben@example.org", "sent"), ("eve@example.org", "failed")]
    assert rows[2][2].startswith("render: UnsafeMessage: headers: ")
    assert "is not a plain address" in rows[2][2]
