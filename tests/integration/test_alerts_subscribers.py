"""Managing subscribers through the API and the `newsmon subscribers` commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest
from click.testing import CliRunner

from pipeline.alerts import (
    SubscriberError,
    add_subscriber,
    import_subscribers_csv,
    list_subscribers,
    unsubscribe,
    update_subscriber,
)
from pipeline.cli.alerts import alerts, subscribers


@pytest.fixture
def settings(settings):
    """Sending is under test here, not batching: a queued alert is due at the next pass."""
    return settings.replace(alert_batch_minutes=0)


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def cli_settings(settings, db_url):
    return settings.replace(database_url=db_url)


def _invoke(group, args, settings):
    return CliRunner().invoke(group, args, obj=settings, catch_exceptions=False)


def test_add_defaults_to_the_default_watchlist_and_immediate_mode(cli_settings, conn) -> None:
    result = _invoke(subscribers, ["add", "Ana@Example.org"], cli_settings)

    assert result.exit_code == 0, result.output
    [sub] = list_subscribers(conn)
    assert (sub.email, sub.watchlists, sub.mode, sub.active) == (
        "Ana@example.org", ("venezuela",), "immediate", True)


def test_add_with_every_option_then_list_as_json(cli_settings) -> None:
    added = _invoke(subscribers, [
        "add", "ben@example.org", "--watchlist", "venezuela", "--watchlist", "colombia",
        "--mode", "daily", "--name", "Ben", "--digest-hour", "18", "--timezone",
        "America/Bogota", "--min-score", "2.5", "--language", "es", "--language", "en",
    ], cli_settings)
    listed = _invoke(subscribers, ["list", "--json"], cli_settings)

    assert added.exit_code == 0, added.output
    row = json.loads(listed.output)
    assert {k: row[k] for k in ("email", "name", "watchlists", "mode", "digest_hour",
                                "timezone", "min_score", "languages")} == {
        "email": "ben@example.org", "name": "Ben", "watchlists": ["venezuela", "colombia"],
        "mode": "daily", "digest_hour": 18, "timezone": "America/Bogota", "min_score": 2.5,
        "languages": ["es", "en"]}


@pytest.mark.parametrize("args, message", [
    (["add", "not-an-address"], "not a valid address"),
    (["add", "a@example.org", "--timezone", "Mars/Olympus"], "unknown time zone"),
    (["add", "a@example.org", "--watchlist", "Bad Name!"], "not a watchlist name"),
    (["add", "a@example.org", "--language", "english"], "not a language code"),
    (["add", "a@example.org", "--min-score", "-1"], "minimum score"),
    (["add", "a@example.org", "--digest-hour", "24"], "24 is not in the range"),
    (["add", "a@example.org\r\nBcc: x@example.org"], "not a valid address"),
])
def test_bad_values_are_refused_with_a_clear_message(cli_settings, conn, args,
                                                      message) -> None:
    result = _invoke(subscribers, args, cli_settings)

    assert result.exit_code != 0
    assert message in result.output
    assert list_subscribers(conn) == []


def test_the_same_address_in_another_case_is_not_added_twice(cli_settings, conn) -> None:
    _invoke(subscribers, ["add", "ana@example.org"], cli_settings)
    second = _invoke(subscribers, ["add", "ANA@example.org"], cli_settings)

    assert second.exit_code != 0 and "already subscribed" in second.output
    assert len(list_subscribers(conn)) == 1


def test_update_and_remove(cli_settings, conn) -> None:
    _invoke(subscribers, ["add", "ana@example.org"], cli_settings)
    updated = _invoke(subscribers, ["update", "ana@example.org", "--mode", "daily",
                                    "--digest-hour", "6", "--inactive"], cli_settings)
    [sub] = list_subscribers(conn)
    events = conn.execute("SELECT action, via FROM subscriber_events ORDER BY id").fetchall()
    removed = _invoke(subscribers, ["remove", "ana@example.org"], cli_settings)
    missing = _invoke(subscribers, ["remove", "ana@example.org"], cli_settings)

    assert updated.exit_code == 0, updated.output
    assert (sub.mode, sub.digest_hour, sub.active) == ("daily", 6, False)
    assert events == [("subscribe", "cli"), ("update", "cli"), ("unsubscribe", "cli")]
    assert removed.exit_code == 0 and list_subscribers(conn) == []
    assert missing.exit_code != 0 and "no subscriber" in missing.output


def test_csv_import_loads_good_rows_and_reports_bad_ones(cli_settings, conn, tmp_path) -> None:
    csv_file = tmp_path / "subscribers.csv"
    csv_file.write_text(
        "email,name,watchlists,mode,digest_hour,timezone,min_score,languages\n"
        "ana@example.org,Ana,venezuela;colombia,daily,6,Europe/Madrid,1.5,es;en\n"
        "broken-address,Bad,,,,,,\n"
        "ben@example.org,Ben,,,,,,\n"
        "cy@example.org,Cy,,weekly,,,,\n"
        "dee@example.org,Dee,,,25,,,\n"
        "ANA@example.org,Ana again,,,,,,\n"
        "eve@example.org,Eve,,,,Nowhere/City,,\n",
        encoding="utf-8",
    )
    result = _invoke(subscribers, ["import", str(csv_file)], cli_settings)
    again = _invoke(subscribers, ["import", str(csv_file)], cli_settings)

    assert result.exit_code == 0, result.output
    assert "added 2, updated 0, skipped 5 bad rows" in result.output
    for line, reason in [(3, "not a valid address"), (5, "mode must be"),
                         (6, "digest hour"), (7, "repeats line 2"), (8, "unknown time zone")]:
        assert f"line {line}: " in result.output and reason in result.output
    assert "added 0, updated 0" in again.output
    subs = {s.email: s for s in list_subscribers(conn)}
    assert set(subs) == {"ana@example.org", "ben@example.org"}
    ana = subs["ana@example.org"]
    assert (ana.watchlists, ana.mode, ana.digest_hour, ana.timezone, ana.min_score,
            ana.languages) == (("venezuela", "colombia"), "daily", 6, "Europe/Madrid", 1.5,
                               ("es", "en"))
    assert subs["ben@example.org"].watchlists == ("venezuela",)


def test_an_import_never_resubscribes_someone_who_left(conn, tmp_path) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    unsubscribe(conn, sub.id, via="one-click")
    csv_file = tmp_path / "s.csv"
    csv_file.write_text("email,mode\nana@example.org,daily\n", encoding="utf-8")

    report = import_subscribers_csv(conn, csv_file, default_watchlist="venezuela")

    [after] = list_subscribers(conn)
    assert (report.updated, after.mode, after.active) == (1, "daily", False)


def test_names_cannot_carry_header_breaks(conn) -> None:
    sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"],
                         name="Ana\r\nBcc: evil@example.org")
    changed = update_subscriber(conn, email="ana@example.org", name="Ana\nX-Evil: 1")

    assert sub.name == "Ana Bcc: evil@example.org"
    assert changed.name == "Ana X-Evil: 1"


def test_update_of_an_unknown_subscriber_is_an_error(conn) -> None:
    with pytest.raises(SubscriberError, match="no subscriber"):
        update_subscriber(conn, email="nobody@example.org", mode="daily")


def test_alert_commands_send_and_report(cli_settings, conn) -> None:
    from tests.support.newsrows import add_article
    from tests.support.smtp import SmtpServer

    with SmtpServer() as server:
        settings = server.configure(cli_settings)
        _invoke(subscribers, ["add", "ana@example.org"], settings)
        add_article(conn, title="Maduro speaks", url="https://a.example/1",
                    now=datetime.now(UTC))
        send = _invoke(alerts, ["send", "--json"], settings)
        again = _invoke(alerts, ["send", "--json"], settings)
        digest = _invoke(alerts, ["digest", "--json"], settings)
        status = _invoke(alerts, ["status"], settings)
        received = server.messages

    assert json.loads(send.output) == {"sent": 1, "emails": 1, "retrying": 0, "failed": 0,
                                       "skipped": 0, "built": 0, "outage": None}
    assert json.loads(again.output)["sent"] == 0
    assert json.loads(digest.output)["sent"] == 0
    assert "alerts: sent 1" in status.output
    assert [m.rcpt_tos for m in received] == [("ana@example.org",)]


def test_alert_send_reports_an_outage_and_keeps_the_alert(cli_settings, conn) -> None:
    from tests.support.newsrows import add_article
    from tests.support.smtp import SmtpServer

    with SmtpServer() as server:
        settings = server.configure(cli_settings)
        server.stop()
        _invoke(subscribers, ["add", "ana@example.org"], settings)
        add_article(conn, title="Maduro speaks", url="https://a.example/1",
                    now=datetime.now(UTC))
        result = CliRunner().invoke(alerts, ["send"], obj=settings)

    assert result.exit_code == 0
    assert "stays queued" in result.output and "cannot connect" in result.output
    assert conn.execute("SELECT status FROM alerts").fetchall() == [("pending",)]
