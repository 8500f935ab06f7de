"""Drill: hostile text from a feed travels through the cycle, the store, an export and an
email, and stays text: no SQL runs, no header is added, no one else gets the mail."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import psycopg
import pytest

from pipeline.alerts import add_subscriber, send_pending
from pipeline.ingest.cycle import run_cycle
from pipeline.research import export_articles
from tests.drills.conftest import source_entry
from tests.support.loopback import LoopbackServer, Reply
from tests.support.smtp import SmtpServer

SQL = "'; DROP TABLE articles; --"
TITLE = f"Maduro{SQL} Bcc: spy@evil.example"
BODY = ("The government of Nicolás Maduro said on Tuesday that police in Caracas had "
        "arrested members of the Tren de Aragua gang accused of extortion in Venezuela. "
        "Officials in Caracas added that the Tren de Aragua operates across the region. ")
INJECTIONS = [SQL, "x') OR 1=1 --", "venezuela' OR 'a'='a", "$$; TRUNCATE articles; $$"]


@pytest.fixture
def settings(settings):
    """Sending is under test here, not batching: a queued alert is due at the next pass."""
    return settings.replace(alert_batch_minutes=0)


def _page() -> bytes:
    return (f"<html lang='en'><head><meta charset='utf-8'><title>{TITLE}</title></head><body>"
            f"<article><h1>{TITLE}</h1>{''.join(f'<p>{BODY}</p>' for _ in range(4))}"
            "</article></body></html>").encode()


def _feed(link: str) -> bytes:
    # The entry title smuggles a line break and a header, as escaped XML.
    title = "Maduro&#13;&#10;Bcc: spy@evil.example&#13;&#10;&#13;&#10;" + SQL.replace("'", "&apos;")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>t</title><link>http://x.test/</link><item><title>{title}</title>"
            f"<link>{link}</link><guid>{link}</guid><pubDate>Tue, 24 Nov 2026 10:00:00 GMT"
            "</pubDate></item></channel></rss>").encode()


@pytest.fixture
def stored(settings, db_url, tmp_path) -> str:
    """One relevant article with hostile text, stored by a real cycle; one subscriber."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"],
                       name="Ana\r\nBcc: spy@evil.example")
        conn.execute("UPDATE subscribers SET created_at = %s", (datetime(2026, 11, 1, tzinfo=UTC),))
    with LoopbackServer({"/p": Reply(headers={"content-type": "text/html"}, body=_page())}) as srv:
        srv.routes["/feed.xml"] = (200, {"content-type": "application/rss+xml"}, _feed(srv.url("/p")))
        sources_file = tmp_path / "sources.toml"
        sources_file.write_text(source_entry("hostile text", srv.url("/feed.xml")))
        from pipeline.sources import load_sources_file

        summary = run_cycle(settings.replace(alert_window_hours=24 * 365 * 100),
                            sources=load_sources_file(sources_file), db_url=db_url)
    assert summary.new_articles == 1
    return db_url


def test_hostile_titles_and_names_add_no_header_and_no_recipient(settings, stored) -> None:
    with SmtpServer() as smtp:
        report = send_pending(stored, smtp.configure(settings))
        messages = smtp.messages

    assert report.sent == 1 and len(messages) == 1
    message = messages[0].message
    assert messages[0].rcpt_tos == ("ana@example.org",)
    assert message["Bcc"] is None and message["Cc"] is None
    assert "\n" not in str(message["Subject"]) and "\n" not in str(message["To"])
    # The hostile name stays inside a quoted display name: one address, one line.
    assert [a.addr_spec for a in message["To"].addresses] == ["ana@example.org"]
    assert not any(line.lower().startswith(b"bcc:") for line in messages[0].data.splitlines())
    with psycopg.connect(stored) as conn:
        title = conn.execute("SELECT title FROM articles").fetchone()[0]
    assert SQL in title  # stored as the text it is


def test_export_filters_compare_injections_as_values(stored) -> None:
    with psycopg.connect(stored) as conn:
        for attempt in INJECTIONS:  # one stored cycle for all: each is a value, not SQL
            out = io.BytesIO()
            written = export_articles(conn, out, fmt="jsonl", relevant=True, watchlist=attempt)
            assert (attempt, written, out.getvalue()) == (attempt, 0, b"")
        real = io.BytesIO()
        one = export_articles(conn, real, fmt="jsonl", relevant=True, watchlist="venezuela")
        counts = conn.execute("SELECT (SELECT count(*) FROM articles),"
                              " (SELECT count(*) FROM matches)").fetchone()
    assert one == 1 and SQL in json.loads(real.getvalue())["title"]
    assert counts == (1, 1)
