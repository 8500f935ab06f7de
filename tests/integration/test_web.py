"""The unsubscribe and preferences pages, served by uvicorn on 127.0.0.1 over a real database."""

from __future__ import annotations

import dataclasses
import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from itsdangerous import URLSafeSerializer

from pipeline.alerts import add_subscriber, send_pending
from pipeline.alerts.subscribers import (
    SubscriberError,
    get_subscriber,
    unsubscribe,
    update_subscriber,
)
from pipeline.alerts.tokens import PREFERENCES, UNSUBSCRIBE, subscriber_token
from pipeline.alerts.web import create_app
from pipeline.config import SecretKeyError
from tests.support.newsrows import add_article, add_subscriber_row
from tests.support.smtp import SmtpServer
from tests.support.webserver import serve_app

NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(settings):
    """Sending is under test here, not batching: a queued alert is due at the next pass."""
    return settings.replace(alert_batch_minutes=0)


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def web(settings, db_url):
    """(settings whose public URL is the running app, an HTTP client for it).

    The secret key is the one newsmon made in the test's NEWSMON_HOME.
    """
    with serve_app(lambda url: create_app(settings.replace(public_url=url), db_url=db_url)) \
            as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
        yield settings.replace(public_url=base_url), http


@pytest.fixture
def web_settings(web):
    return web[0]


@pytest.fixture
def client(web):
    return web[1]


def _unsubscribe_token(settings, sub) -> str:
    return subscriber_token(settings.secret_key, sub, purpose=UNSUBSCRIBE)


def _preferences_token(settings, sub) -> str:
    return subscriber_token(settings.secret_key, sub, purpose=PREFERENCES)


ONE_CLICK = {"content": "List-Unsubscribe=One-Click",
             "headers": {"content-type": "application/x-www-form-urlencoded"}}


def _events(conn) -> list[tuple[str, str]]:
    return conn.execute("SELECT action, via FROM subscriber_events WHERE action <> 'subscribe' "
                        "ORDER BY id").fetchall()


def test_one_click_post_unsubscribes(client, conn, web_settings) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    token = _unsubscribe_token(web_settings, sub)

    response = client.post(f"/unsubscribe/{token}", **ONE_CLICK)
    repeat = client.post(f"/unsubscribe/{token}", **ONE_CLICK)  # a mail client retrying

    assert (response.status_code, repeat.status_code) == (200, 200)
    assert "ana@example.org will receive no more newsmon email" in response.text
    # The token died with the unsubscribe: the repeat is answered calmly, without the address.
    assert "This address receives no newsmon email." in repeat.text
    assert "ana@example.org" not in repeat.text
    assert get_subscriber(conn, subscriber_id=sub.id).active is False
    assert _events(conn) == [("unsubscribe", "one-click")]  # the repeat changed nothing
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_get_only_asks_for_confirmation(client, conn, web_settings) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    token = _unsubscribe_token(web_settings, sub)

    page = client.get(f"/unsubscribe/{token}")  # what a link scanner would do

    assert page.status_code == 200
    assert "Stop all newsmon email to <strong>ana@example.org</strong>?" in page.text
    assert f'action="/unsubscribe/{token}"' in page.text
    assert "/preferences/" not in page.text  # an unsubscribe link never leads there
    assert get_subscriber(conn, subscriber_id=sub.id).active is True


DAY = 86_400.0


def _tampered(token: str) -> str:
    """`token` with the first character of its signature changed: a whole base64 digit of
    the MAC (the last character carries padding bits, and may already be the one swapped
    in, so changing it can leave the token valid)."""
    payload, _, signature = token.rpartition(".")
    return f"{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


@pytest.mark.parametrize("make_token", [
    lambda key, sub, purpose: "garbage",
    lambda key, sub, purpose: subscriber_token("another-secret-of-32-bytes-or-more", sub,
                                               purpose=purpose),  # signed with the wrong key
    lambda key, sub, purpose: _tampered(subscriber_token(key, sub, purpose=purpose)),
    lambda key, sub, purpose: subscriber_token(key, dataclasses.replace(sub, id=999_999),
                                               purpose=purpose),  # nobody
    lambda key, sub, purpose: subscriber_token(key, dataclasses.replace(sub, token_version=1),
                                               purpose=purpose),  # a version not yet issued
    lambda key, sub, purpose: subscriber_token(
        key, sub, purpose=purpose, now=time.time() - 366 * DAY),  # expired
    lambda key, sub, purpose: subscriber_token(  # the other page's token
        key, sub, purpose=PREFERENCES if purpose == UNSUBSCRIBE else UNSUBSCRIBE),
], ids=["garbage", "wrong-key", "tampered", "nobody", "future-version", "expired",
        "other-purpose"])
def test_forged_or_foreign_tokens_do_nothing(client, conn, web_settings, make_token) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    key = web_settings.secret_key

    posted = client.post(f"/unsubscribe/{make_token(key, sub, UNSUBSCRIBE)}", **ONE_CLICK)
    prefs = client.get(f"/preferences/{make_token(key, sub, PREFERENCES)}")
    changed = client.post(f"/preferences/{make_token(key, sub, PREFERENCES)}", data={
        "watchlist": ["colombia"], "mode": "daily", "digest_hour": "3", "timezone": "UTC"})

    assert (posted.status_code, prefs.status_code, changed.status_code) == (404, 404, 404)
    for response in (posted, prefs, changed):
        assert "ana@example.org" not in response.text
    after = get_subscriber(conn, subscriber_id=sub.id)
    assert (after.active, after.watchlists, after.mode) == (True, ("venezuela",), "immediate")
    assert _events(conn) == []


def test_a_token_works_for_its_own_subscriber_only(client, conn, web_settings) -> None:
    ana = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    ben = add_subscriber(conn, email="ben@example.org", watchlists=["venezuela"])

    client.post(f"/unsubscribe/{_unsubscribe_token(web_settings, ana)}", **ONE_CLICK)

    assert get_subscriber(conn, subscriber_id=ana.id).active is False
    assert get_subscriber(conn, subscriber_id=ben.id).active is True


def test_preferences_change_watchlists_and_mode(client, conn, web_settings) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    token = _preferences_token(web_settings, sub)

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

    sub = get_subscriber(conn, subscriber_id=sid)
    page = client.get(f"/preferences/{_preferences_token(web_settings, sub)}")

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


def test_links_die_with_an_unsubscribe_even_after_resubscribing(client, conn,
                                                                 web_settings) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    old_unsubscribe = _unsubscribe_token(web_settings, sub)
    old_preferences = _preferences_token(web_settings, sub)
    client.post(f"/unsubscribe/{old_unsubscribe}", **ONE_CLICK)
    update_subscriber(conn, email="ana@example.org", active=True)  # back, through the CLI

    again = client.post(f"/unsubscribe/{old_unsubscribe}", **ONE_CLICK)
    prefs = client.get(f"/preferences/{old_preferences}")
    retarget = client.post(f"/preferences/{old_preferences}", data={
        "watchlist": ["colombia"], "mode": "daily", "digest_hour": "3", "timezone": "UTC",
        "active": "on"})
    after = get_subscriber(conn, subscriber_id=sub.id)
    fresh = client.get(f"/preferences/{_preferences_token(web_settings, after)}")

    assert (again.status_code, prefs.status_code, retarget.status_code) == (404, 404, 404)
    assert (after.active, after.watchlists, after.token_version) == (True, ("venezuela",), 1)
    assert fresh.status_code == 200  # links in the next email work
    assert _events(conn) == [("unsubscribe", "one-click")]


def test_a_new_address_kills_links_sent_to_the_old_one(client, conn, web_settings) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    token = _preferences_token(web_settings, sub)
    conn.execute("UPDATE subscribers SET email = 'ana@new.example.org' WHERE id = %s", (sub.id,))

    assert client.get(f"/preferences/{token}").status_code == 404
    assert get_subscriber(conn, subscriber_id=sub.id).token_version == 1


def test_turning_email_off_in_preferences_keeps_the_page_working(client, conn,
                                                                 web_settings) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    token = _preferences_token(web_settings, sub)

    off = client.post(f"/preferences/{token}", data={
        "watchlist": ["venezuela"], "mode": "immediate", "digest_hour": "7", "timezone": "UTC"})
    action = re.search(r'<form method="post" action="(/preferences/[^"]+)"', off.text).group(1)
    unsubscribe_link = re.search(r'<a href="(/unsubscribe/[^"]+)"', off.text).group(1)
    back_on = client.post(action, data={
        "watchlist": ["venezuela"], "mode": "immediate", "digest_hour": "7", "timezone": "UTC",
        "active": "on"})

    assert off.status_code == 200 and "Saved." in off.text
    assert action != f"/preferences/{token}"  # the old link died with the unsubscribe
    assert client.get(f"/preferences/{token}").status_code == 404
    assert back_on.status_code == 200 and "Saved." in back_on.text
    assert client.get(unsubscribe_link).status_code == 200
    assert get_subscriber(conn, subscriber_id=sub.id).active is True


def test_a_link_sent_before_token_versions_still_unsubscribes_once(client, conn,
                                                                   web_settings) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    legacy = URLSafeSerializer(web_settings.secret_key, salt="newsmon.subscription").dumps(sub.id)

    prefs = client.get(f"/preferences/{legacy}")
    posted = client.post(f"/unsubscribe/{legacy}", **ONE_CLICK)
    update_subscriber(conn, email="ana@example.org", active=True)
    again = client.post(f"/unsubscribe/{legacy}", **ONE_CLICK)

    assert prefs.status_code == 404
    assert posted.status_code == 200 and "will receive no more newsmon email" in posted.text
    assert again.status_code == 404
    assert get_subscriber(conn, subscriber_id=sub.id).active is True


def test_a_change_authorised_by_an_old_version_loses_to_the_unsubscribe(conn) -> None:
    """The pages check the version when they read the token, and again under the row lock."""
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    unsubscribe(conn, sub.id, via="cli")
    update_subscriber(conn, email="ana@example.org", active=True)

    with pytest.raises(SubscriberError, match="no longer valid"):
        update_subscriber(conn, subscriber_id=sub.id, watchlists=["colombia"], active=True,
                          via="web", token_version=0)
    assert unsubscribe(conn, sub.id, via="web", token_version=0) is False
    assert get_subscriber(conn, subscriber_id=sub.id).active is True
    assert unsubscribe(conn, sub.id, via="web", token_version=1) is True


@pytest.mark.parametrize("change, error", [
    ({"secret_key": "change-me"}, SecretKeyError),
    ({"secret_key": ""}, SecretKeyError),
    ({"public_url": "http://news.example.org"}, ValueError),
])
def test_the_app_refuses_to_start_with_weak_link_settings(settings, db_url, change,
                                                          error) -> None:
    with pytest.raises(error):
        create_app(settings.replace(**change), db_url=db_url)
