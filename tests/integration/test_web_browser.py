"""A real headless Chromium follows the links in a received email.

Needs Debian's chromium (`apt-get install chromium`) and the Playwright client
(`pip install playwright`; no browser download: it drives the system chromium).
Skips cleanly when either is missing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from pipeline.alerts import send_pending
from pipeline.alerts.subscribers import get_subscriber
from pipeline.alerts.web import create_app
from tests.support.newsrows import add_article, add_subscriber_row
from tests.support.smtp import SmtpServer
from tests.support.webserver import serve_app

NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)
pytest_plugins = ["tests.support.browser"]  # the `browser` fixture: a real headless Chromium


@pytest.fixture
def settings(settings):
    """Sending is under test here, not batching: a queued alert is due at the next pass."""
    return settings.replace(alert_batch_minutes=0)


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def site(settings, db_url):
    """Settings whose public URL is the running web app, and a local SMTP server."""
    with serve_app(lambda url: create_app(settings.replace(public_url=url), db_url=db_url)) \
            as base_url, SmtpServer() as smtp:
        yield smtp.configure(settings.replace(public_url=base_url)), smtp


def _link(received, text: str) -> str:
    html = received.message.get_body(("html",)).get_content()
    found = re.search(r'<a href="([^"]+)"[^>]*>' + re.escape(text) + "</a>", html)
    assert found, f"no {text!r} link in the email"
    return found.group(1)


def test_unsubscribe_from_the_emailed_link_stops_all_email(browser, site, conn, db_url) -> None:
    settings, smtp = site
    ana = add_subscriber_row(conn, "ana@example.org", created_at=NOW - timedelta(days=3))
    add_article(conn, title="Maduro first", url="https://a.example/1", now=NOW)
    send_pending(db_url, settings, now=NOW)
    [received] = smtp.messages

    page = browser.new_page()
    page.goto(_link(received, "Unsubscribe"))
    asked = page.locator("h1").inner_text()
    still_active = get_subscriber(conn, subscriber_id=ana).active  # opening the page is not enough
    page.click("#unsubscribe")
    page.wait_for_selector("#message")
    done = page.locator("h1").inner_text()
    message = page.locator("#message").inner_text()

    add_article(conn, title="Maduro second", url="https://a.example/2",
                now=NOW + timedelta(hours=1))
    later = send_pending(db_url, settings, now=NOW + timedelta(hours=1))

    assert (asked, still_active) == ("Unsubscribe?", True)
    assert (done, message) == ("Unsubscribed", "ana@example.org will receive no more newsmon email.")
    assert get_subscriber(conn, subscriber_id=ana).active is False
    assert later.sent == 0
    assert [str(m.message["Subject"]) for m in smtp.messages] == ["[venezuela] Maduro first"]


def test_switch_to_a_daily_digest_from_the_emailed_link(browser, site, conn, db_url) -> None:
    settings, smtp = site
    ana = add_subscriber_row(conn, "ana@example.org", created_at=NOW - timedelta(days=3))
    add_article(conn, title="Maduro first", url="https://a.example/1", now=NOW)
    send_pending(db_url, settings, now=NOW)

    page = browser.new_page()
    page.goto(_link(smtp.messages[0], "Change what you receive"))
    page.check('input[name="mode"][value="daily"]')
    page.select_option('select[name="digest_hour"]', "18")
    page.fill('input[name="timezone"]', "America/Caracas")
    page.click("#save")
    page.wait_for_selector("#saved")

    add_article(conn, title="Maduro second", url="https://a.example/2",
                now=NOW + timedelta(hours=1))
    later = send_pending(db_url, settings, now=NOW + timedelta(hours=1))

    sub = get_subscriber(conn, subscriber_id=ana)
    assert (sub.mode, sub.digest_hour, sub.timezone, sub.active) == (
        "daily", 18, "America/Caracas", True)
    assert later.sent == 0  # digest subscribers get no immediate alerts
