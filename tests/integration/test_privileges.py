"""Least privilege, tested by logging in as each role: the researchers' SQL cannot reach the
server or write, a reader cannot take the pipeline's locks or hold it up, logins join one
group each, and two shards never poll one source at once.

Roles are cluster-wide: logins made here get unique names and are dropped afterwards.
Both test servers trust loopback logins, so no passwords are needed to log in.
"""

from __future__ import annotations

import re
import shutil
import threading
import time

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import errors, sql

from pipeline.alerts import add_subscriber
from pipeline.alerts.subscribers import get_subscriber, unsubscribe, update_subscriber
from pipeline.cli.main import db_grant_login
from pipeline.cli.research import sql_command
from pipeline.config import Settings
from pipeline.ingest.cycle import prepare_run, run_cycle, run_shard
from pipeline.sources import load_sources_file
from pipeline.store import apply_migrations, connect_reader, database_url
from pipeline.store.connection import with_login
from pipeline.store.migrate import SQL_DIR
from pipeline.store.queries import CYCLE_LOCK, SOURCE_LOCK
from pipeline.store.roles import READER_LOGIN, grant_login, stop_overdue_readers
from tests.drills.conftest import source_entry
from tests.support.loopback import LoopbackServer, Reply

MIGRATION_LOCK = 7_140_001
LOCK_CALLS = [f"SELECT pg_try_advisory_lock({CYCLE_LOCK})",
              f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})",
              f"SELECT pg_try_advisory_lock({SOURCE_LOCK}, 1)",
              "SELECT pg_advisory_lock_shared(1)"]


@pytest.fixture
def cli_settings(settings: Settings, db_url: str) -> Settings:
    return settings.replace(database_url=db_url)


def wait_for(conn: psycopg.Connection, query: str, params: tuple) -> None:
    """Until `query` is true; a condition, not a duration, so no timing is asserted."""
    for _ in range(1000):
        if conn.execute(query, params).fetchone()[0]:
            return
        time.sleep(0.01)
    raise AssertionError(f"never true: {query}")


# --- newsmon sql runs on a reader login ------------------------------------------------------


@pytest.mark.parametrize("statement", [
    "COPY (SELECT 1) TO PROGRAM 'true'",
    "SELECT pg_read_file('PG_VERSION')",
    "SELECT pg_ls_dir('.')",
    "SET ROLE newsmon_owner",
    "SELECT set_config('role', 'newsmon_owner', false)",
    *LOCK_CALLS,
])
def test_sql_cannot_reach_the_server_or_become_a_writer(cli_settings, statement) -> None:
    done = CliRunner().invoke(sql_command, [statement], obj=cli_settings)
    assert done.exit_code == 1, done.output
    # PostgreSQL 15 words COPY's refusal "must be superuser ..."; 16 on "permission denied".
    assert re.search(r"sql: (permission denied|must be superuser)", done.output), done.output


@pytest.mark.parametrize("statement", [
    "CREATE TABLE mine (id int)",
    "INSERT INTO articles (url, canonical_url, content_hash) VALUES ('u', 'u', 'h')",
    "UPDATE sources SET enabled = false",
    "DELETE FROM matches",
    "SELECT nextval('articles_id_seq')",
])
def test_sql_cannot_write_or_create(cli_settings, db_url, statement) -> None:
    done = CliRunner().invoke(sql_command, [statement], obj=cli_settings)
    assert done.exit_code == 1 and "sql:" in done.output
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regclass('mine')").fetchone() == (None,)


def test_the_reader_login_cannot_write_even_out_of_read_only_mode(cli_settings) -> None:
    with connect_reader(cli_settings, autocommit=True) as reader:
        assert reader.execute("SELECT session_user").fetchone() == (READER_LOGIN,)
        reader.execute("SET default_transaction_read_only = off")
        reader.execute("RESET ROLE")  # back to itself: the session user is the reader
        for statement in ("INSERT INTO sources (name, url) VALUES ('x', 'http://x.test/')",
                          "CREATE TABLE mine (id int)", "SET ROLE newsmon_owner"):
            with pytest.raises(errors.InsufficientPrivilege):
                reader.execute(statement)
        assert reader.execute("SELECT current_user").fetchone() == (READER_LOGIN,)


def test_a_writer_url_is_refused_as_the_reader_url(cli_settings, db_url) -> None:
    done = CliRunner().invoke(sql_command, ["SELECT 1"],
                              obj=cli_settings.replace(reader_url=db_url))
    assert done.exit_code == 1
    assert "is not a read-only login" in done.output


# --- locks a reader cannot take ----------------------------------------------------------------


def test_only_the_owner_may_take_advisory_locks(db_url) -> None:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            """SELECT p.oid::regprocedure::text,
                      has_function_privilege(%s, p.oid, 'EXECUTE'),
                      has_function_privilege('newsmon_owner', p.oid, 'EXECUTE'),
                      has_function_privilege('newsmon_web', p.oid, 'EXECUTE')
               FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace
                 AND (p.proname LIKE 'pg\\_advisory%%' OR p.proname LIKE 'pg\\_try\\_advisory%%')""",
            (READER_LOGIN,)).fetchall()
    assert len(rows) >= 16  # session and transaction, shared and exclusive, try and wait
    assert [(name, reader, owner, web) for name, reader, owner, web in rows
            if reader or web or not owner] == []


@pytest.mark.parametrize("call", LOCK_CALLS)
def test_a_reader_cannot_take_the_pipeline_locks_or_stop_a_cycle(cli_settings, call) -> None:
    with connect_reader(cli_settings, autocommit=True) as reader:
        with pytest.raises(errors.InsufficientPrivilege):
            reader.execute(call)
        summary = run_cycle(cli_settings, sources=[], db_url=database_url(cli_settings))
    assert not summary.skipped_locked and summary.run_id is not None


def test_a_reader_transaction_does_not_hold_a_migration_up(cli_settings, db_url,
                                                           tmp_path) -> None:
    for path in (p for p in SQL_DIR.iterdir() if p.name.endswith(".sql")):
        shutil.copy(path, tmp_path)
    (tmp_path / "9999_probe.sql").write_text(
        "ALTER TABLE articles ADD COLUMN probe integer;\nCREATE TABLE probe (id integer);\n")
    with connect_reader(cli_settings) as reader:
        reader.execute("SELECT count(*) FROM articles")  # and stays idle in the transaction
        # On a defenceless server the ALTER waits for the reader until this timeout.
        with psycopg.connect(database_url(cli_settings), autocommit=True,
                             options="-c statement_timeout=60s") as conn:
            applied = apply_migrations(conn, tmp_path)
            owner = conn.execute("SELECT relowner::regrole::text FROM pg_class "
                                 "WHERE oid = 'probe'::regclass").fetchone()
        with pytest.raises(psycopg.OperationalError):
            reader.execute("SELECT 1")
    assert applied == ["9999_probe"]
    assert owner == ("newsmon_owner",)  # migrations run as the owner, not the superuser


# --- limits a reader cannot lift -------------------------------------------------------------


def test_a_reader_that_lifts_its_statement_timeout_is_still_stopped(cli_settings, db_url,
                                                                    role_name) -> None:
    with psycopg.connect(db_url, autocommit=True) as admin:
        grant_login(admin, role_name, role="reader", statement_timeout="1ms")
    reader = psycopg.connect(with_login(db_url, role_name), autocommit=True,
                             options="-c statement_timeout=0")
    pid = reader.info.backend_pid
    outcome: list[BaseException] = []

    def long_query() -> None:
        try:
            reader.execute("SELECT pg_sleep(30)")
        except psycopg.Error as exc:
            outcome.append(exc)

    worker = threading.Thread(target=long_query)
    worker.start()
    try:
        with psycopg.connect(database_url(cli_settings), autocommit=True) as owner:
            wait_for(owner, """SELECT state = 'active' AND query LIKE 'SELECT pg_sleep%%'
                                      AND clock_timestamp() - query_start > interval '1ms'
                               FROM pg_stat_activity WHERE pid = %s""", (pid,))
            stopped = stop_overdue_readers(owner)
        worker.join(timeout=60)
    finally:
        reader.close()
    assert [(s.pid, s.login, s.reason) for s in stopped] == [(pid, role_name, "statement")]
    assert outcome and isinstance(outcome[0], psycopg.OperationalError)


def test_a_reader_idle_in_a_transaction_is_stopped_past_its_limit(cli_settings, db_url,
                                                                  role_name) -> None:
    with psycopg.connect(db_url, autocommit=True) as admin:
        grant_login(admin, role_name, role="reader")
        admin.execute(sql.SQL("ALTER ROLE {} SET idle_in_transaction_session_timeout = '1ms'")
                      .format(sql.Identifier(role_name)))
    with psycopg.connect(with_login(db_url, role_name),
                         options="-c idle_in_transaction_session_timeout=0") as reader, \
            psycopg.connect(database_url(cli_settings), autocommit=True) as owner:
        idle = psycopg.connect(with_login(db_url, role_name), autocommit=True)  # not in a txn
        reader.execute("SELECT count(*) FROM articles")
        pid = reader.info.backend_pid
        wait_for(owner, """SELECT state = 'idle in transaction'
                                  AND clock_timestamp() - state_change > interval '1ms'
                           FROM pg_stat_activity WHERE pid = %s""", (pid,))
        stopped = stop_overdue_readers(owner)
        with pytest.raises(psycopg.OperationalError):
            reader.execute("SELECT 1")
        assert idle.execute("SELECT 1").fetchone() == (1,)  # holds nothing: left alone
        idle.close()
    assert [(s.pid, s.reason) for s in stopped] == [(pid, "idle-in-transaction")]


# --- one source, one poller ------------------------------------------------------------------


def test_two_shards_never_poll_one_source_at_once(settings, db_url, tmp_path) -> None:
    entered, release = threading.Event(), threading.Event()
    feed = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            b"<link>http://x.test/</link></channel></rss>")

    def slow_feed(_request) -> Reply:
        entered.set()
        release.wait(30)
        return Reply(headers={"content-type": "application/rss+xml"}, body=feed)

    url = database_url(settings.replace(database_url=db_url))  # the owner, as the DAG runs
    with LoopbackServer({"/feed.xml": slow_feed}) as srv:
        sources_file = tmp_path / "sources.toml"
        sources_file.write_text(source_entry("one", srv.url("/feed.xml")))
        run_id = prepare_run(settings, db_url=url, sources=load_sources_file(sources_file))
        with psycopg.connect(url) as conn:
            source_ids = [conn.execute("SELECT id FROM sources").fetchone()[0]]
        first: list = []
        worker = threading.Thread(target=lambda: first.append(run_shard(
            settings, db_url=url, run_id=run_id, source_ids=source_ids, shard="1/2")))
        worker.start()
        try:
            assert entered.wait(30), "the first shard never polled"
            second = run_shard(settings, db_url=url, run_id=run_id, source_ids=source_ids,
                               shard="2/2")
        finally:
            release.set()
            worker.join(timeout=60)
        polls_at_once = srv.count("/feed.xml")
        third = run_shard(settings, db_url=url, run_id=run_id, source_ids=source_ids, shard="3")
    assert (second.sources_busy, second.sources_polled) == (1, 0)
    assert polls_at_once == 1
    assert (first[0].sources_busy, first[0].sources_polled) == (0, 1)
    assert (third.sources_busy, third.sources_polled) == (0, 1)  # released with the shard


# --- grant-login -----------------------------------------------------------------------------


def test_a_web_login_changes_subscriptions_and_nothing_else(cli_settings, db_url,
                                                            role_name) -> None:
    done = CliRunner().invoke(db_grant_login, [role_name, "--role", "web"], obj=cli_settings)
    assert done.exit_code == 0, done.output
    with psycopg.connect(db_url, autocommit=True) as admin:
        ana = add_subscriber(admin, email="ana@example.org", watchlists=["venezuela"])
    with psycopg.connect(with_login(db_url, role_name), autocommit=True) as web:
        assert get_subscriber(web, subscriber_id=ana.id).email == "ana@example.org"
        assert update_subscriber(web, subscriber_id=ana.id, mode="daily", via="web").mode == "daily"
        assert unsubscribe(web, ana.id, via="one-click") is True
        for statement in ("SELECT count(*) FROM articles", "DELETE FROM subscribers",
                          "INSERT INTO subscribers (email) VALUES ('eve@example.org')",
                          "SELECT * FROM subscriber_events", *LOCK_CALLS[:1]):
            with pytest.raises(errors.InsufficientPrivilege):
                web.execute(statement)
    with psycopg.connect(db_url) as admin:
        assert admin.execute("SELECT action FROM subscriber_events ORDER BY id").fetchall() == [
            ("subscribe",), ("update",), ("unsubscribe",)]


def test_an_owner_login_with_a_password_runs_the_pipeline(cli_settings, db_url, role_name,
                                                          monkeypatch) -> None:
    monkeypatch.setenv("OWNER_PASSWORD", "correct horse battery staple")
    done = CliRunner().invoke(db_grant_login, [role_name, "--role", "owner",
                                               "--password-env", "OWNER_PASSWORD"],
                              obj=cli_settings)
    assert done.exit_code == 0, done.output
    with psycopg.connect(db_url) as admin:
        stored = admin.execute("SELECT rolpassword, rolsuper FROM pg_authid WHERE rolname = %s",
                               (role_name,)).fetchone()
    assert stored[0].startswith("SCRAM-SHA-256$") and "horse" not in stored[0]
    assert stored[1] is False
    owner_url = with_login(db_url, role_name)
    summary = run_cycle(cli_settings, sources=[], db_url=owner_url)
    assert not summary.skipped_locked
    with psycopg.connect(owner_url) as owner:
        assert owner.execute(LOCK_CALLS[0]).fetchone() == (True,)
        with pytest.raises(errors.InsufficientPrivilege):
            owner.execute("SELECT pg_read_file('PG_VERSION')")


@pytest.mark.parametrize("password", [None, "", "short-but-15-ch"])
def test_grant_login_refuses_a_missing_or_short_password(cli_settings, db_url, role_name,
                                                         monkeypatch, password) -> None:
    if password is not None:
        monkeypatch.setenv("OWNER_PASSWORD", password)
    else:
        monkeypatch.delenv("OWNER_PASSWORD", raising=False)
    done = CliRunner().invoke(db_grant_login, [role_name, "--role", "owner",
                                               "--password-env", "OWNER_PASSWORD"],
                              obj=cli_settings)
    assert done.exit_code == 1 and "shorter than 16 characters" in done.output
    with psycopg.connect(db_url) as admin:
        assert admin.execute("SELECT to_regrole(%s)", (role_name,)).fetchone() == (None,)


def test_grant_login_leaves_a_role_outside_the_group_alone(cli_settings, db_url) -> None:
    with psycopg.connect(db_url) as admin:
        superuser = admin.execute("SELECT current_user").fetchone()[0]
    if not superuser.islower():
        pytest.skip("the server's user name is not a valid login name")
    done = CliRunner().invoke(db_grant_login, [superuser, "--role", "reader"], obj=cli_settings)
    assert done.exit_code == 1 and "already exists and is not a reader" in done.output


# --- the schema belongs to the owner ---------------------------------------------------------


def test_the_owner_owns_every_newsmon_object(db_url, cli_settings) -> None:
    with psycopg.connect(db_url) as conn:
        others = conn.execute(
            """SELECT c.relname, c.relowner::regrole::text FROM pg_class c
               WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'S')
                 AND c.relowner <> 'newsmon_owner'::regrole
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid
                                 AND d.classid = 'pg_class'::regclass AND d.deptype = 'e')
               UNION ALL
               SELECT p.proname, p.proowner::regrole::text FROM pg_proc p
               WHERE p.pronamespace = 'public'::regnamespace
                 AND p.proowner <> 'newsmon_owner'::regrole
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid
                                 AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e')
               UNION ALL
               SELECT cfgname, cfgowner::regrole::text FROM pg_ts_config
               WHERE cfgnamespace = 'public'::regnamespace
                 AND cfgowner <> 'newsmon_owner'::regrole""").fetchall()
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                              "AND tableowner = 'newsmon_owner'").fetchone()[0]
    assert others == [] and tables >= 15
    # A superuser URL is made to act as the owner for the pipeline's own sessions.
    with psycopg.connect(database_url(cli_settings)) as pipeline:
        assert pipeline.execute("SELECT current_user").fetchone() == ("newsmon_owner",)
