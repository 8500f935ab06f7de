"""The unsubscribe and preferences pages, served by uvicorn on 127.0.0.1 over a real database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from pipeline.alerts import add_subscriber, send_pending
from pipeline.alerts.subscribers import get_subscriber
from pipeline.alerts.tokens import subscriber_token
from pipeline.web import create_app
from tests.support.newsrows import add_article, add_subscriber_row
from tests.support.smtp import SmtpServer
from tests.support.webserver import serve_app

NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def web(settings, db_url):
    """(settings whose public URL is the running app, an HTTP client for it)."""
    settings = settings.replace(secret_key="test-secret")
    with serve_app(lambda url: create_app(settings.replace(public_url=url), db_url=db_url)) \
            as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
        yield settings.replace(public_url=base_url), http


@pytest.fixture
def web_settings(web):
    return web[0]


@pytest.fixture
def client(web):
    return web[1]


def _events(conn) -> list[tuple[str, str]]:
    return conn.execute("SELECT action, via FROM subscriber_events WHERE action <> 'subscribe' "
                        "ORDER BY id").fetchall()


def test_one_click_post_unsubscribes(client, conn, web_settings) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    token = subscriber_token(web_settings.secret_key, sub.id)

    response = client.post(f"/unsubscribe/{token}", content="List-Unsubscribe=One-Click",
                           headers={"content-type": "application/x-www-form-urlencoded"})
    repeat = client.post(f"/unsubscribe/{token}", content="List-Unsubscribe=One-Click",
                         headers={"content-type": "application/x-www-form-urlencoded"})

    assert (response.status_code, repeat.status_code) == (200, 200)
    assert "will receive no more newsmon email" in response.text
    assert get_subscriber(conn, subscriber_id=sub.id).active is False
    assert _events(conn) == [("unsubscribe", "one-click")]  # the repeat changed nothing
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_get_only_asks_for_confirmation(client, conn, web_settings) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    token = subscriber_token(web_settings.secret_key, sub.id)

    page = client.get(f"/unsubscribe/{token}")  # what a link scanner would do

    assert page.status_code == 200
    assert "Stop all newsmon email to <strong>ana@example.org</strong>?" in page.text
    assert f'action="/unsubscribe/{token}"' in page.text
    assert get_subscriber(conn, subscriber_id=sub.id).active is True


@pytest.mark.parametrize("make_token", [
    lambda sid: "garbage",
    lambda sid: subscriber_token("another-secret", sid),  # signed with the wrong key
    lambda sid: subscriber_token("test-secret", sid)[:-1] + "A",  # tampered signature
    lambda sid: subscriber_token("test-secret", 999_999),  # nobody
])
def test_forged_or_foreign_tokens_do_nothing(client, conn, make_token) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])

    token = make_token(sub.id)
    posted = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    prefs = client.get(f"/preferences/{token}")

    assert posted.status_code in {200, 404}
    assert prefs.status_code == 404
    assert get_subscriber(conn, subscriber_id=sub.id).active is True


def test_a_token_works_for_its_own_subscriber_only(client, conn, web_settings) -> None:
    ana = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    ben = add_subscriber(conn, email="ben@example.org", watchlists=["venezuela"])

    client.post(f"/unsubscribe/{subscriber_token(web_settings.secret_key, ana.id)}",
                data={"List-Unsubscribe": "One-Click"})

    assert get_subscriber(conn, subscriber_id=ana.id).active is False
    assert get_subscriber(conn, subscriber_id=ben.id).active is True


def test_preferences_change_watchlists_and_mode(client, conn, web_settings) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    token = subscriber_token(web_settings.secret_key, sub.id)

    form = client.get(f"/preferences/{token}")
    saved = client.post(f"/preferences/{token}", data={
        "watchlist": ["venezuela", "colombia"], "mode": "daily", "digest_hour": "18",
        "timezone": "America/Caracas", "active": "on"})
    bad = client.post(f"/preferences/{token}", data={
        "mode": "daily", "digest_hour": "18", "timezone": "America/Caracas", "active": "on"})

    assert form.status_code == 200
    assert 'name="watchlist" value="venezuela" checked' in form.text
    assert saved.status_code == 200 and "Saved." in saved.text
    after = get_subscriber(conn, subscriber_id=sub.id)
    assert (after.watchlists, after.mode, after.digest_hour, after.timezone) == (
        ("venezuela", "colombia"), "daily", 18, "America/Caracas")
    assert bad.status_code == 400 and "at least one watchlist" in bad.text
    assert _events(conn) == [("update", "web")]


def test_pages_escape_what_they_show(client, conn, web_settings) -> None:
    sid = add_subscriber_row(conn, "ana@example.org", created_at=NOW,
                             watchlists=("venezuela",))
    conn.execute("UPDATE subscribers SET timezone = %s WHERE id = %s",
                 ('"><script>alert(1)</script>', sid))

    page = client.get(f"/preferences/{subscriber_token(web_settings.secret_key, sid)}")

    assert "<script>alert(1)</script>" not in page.text
    assert "&#34;&gt;&lt;script&gt;" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_after_unsubscribing_through_the_emailed_link_no_more_email(
        client, conn, db_url, web_settings) -> None:
    add_subscriber_row(conn, "ana@example.org", created_at=NOW - timedelta(days=3))
    add_article(conn, title="Maduro first", url="https://a.example/1", now=NOW)
    with SmtpServer() as smtp:
        settings = smtp.configure(web_settings)
        send_pending(db_url, settings, now=NOW)
        header = str(smtp.messages[0].message["List-Unsubscribe"]).strip()  # may be folded
        url = re.fullmatch(r"<(http://127\.0\.0\.1:\d+/unsubscribe/[^>]+)>", header).group(1)
        client.post(url, content="List-Unsubscribe=One-Click",
                    headers={"content-type": "application/x-www-form-urlencoded"})
        add_article(conn, title="Maduro second", url="https://a.example/2",
                    now=NOW + timedelta(hours=1))
        report = send_pending(db_url, settings, now=NOW + timedelta(hours=1))
        subjects = [str(m.message["Subject"]) for m in smtp.messages]

    assert subjects == ["[venezuela] Maduro first"]
    assert report.sent == 0
