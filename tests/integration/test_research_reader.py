"""The read-only `newsmon_reader` role and researcher logins, tested by logging in as one.

Roles are cluster-wide, so every login gets a unique name and is dropped afterwards; the
group role itself may already exist on a shared server, which the migration must cope with.
"""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import errors, sql

from pipeline.cli.research import grant_reader_command
from pipeline.config import Settings
from pipeline.research import ResearchError, grant_reader, reader_conninfo
from pipeline.store import apply_migrations


@pytest.fixture
def stocked(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        article = conn.execute(
            """INSERT INTO articles (url, canonical_url, title, text, lang, content_hash)
               VALUES ('https://n.example/1', 'https://n.example/1', 'Maduro', 'El régimen',
                       'es', 'h') RETURNING id""").fetchone()[0]
        conn.execute("INSERT INTO matches (article_id, watchlist, relevant, score) "
                     "VALUES (%s, 'venezuela', true, 2)", (article,))
        subscriber = conn.execute("INSERT INTO subscribers (email) VALUES ('ana@example.org') "
                                  "RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO alerts (subscriber_id, article_id, watchlist) "
                     "VALUES (%s, %s, 'venezuela')", (subscriber, article))


def login(db_url: str, name: str) -> psycopg.Connection:
    """Connect as the researcher (both test servers trust loopback logins)."""
    return psycopg.connect(reader_conninfo(db_url, name, None), autocommit=True)


def admin(db_url: str) -> psycopg.Connection:
    return psycopg.connect(db_url, autocommit=True)


def test_a_reader_reads_articles_views_and_searches(db_url, stocked, role_name) -> None:
    with admin(db_url) as conn:
        grant_reader(conn, role_name)
    with login(db_url, role_name) as reader:
        assert reader.execute("SELECT title FROM articles").fetchall() == [("Maduro",)]
        assert reader.execute("SELECT watchlist FROM relevant_articles").fetchall() == [
            ("venezuela",)]
        assert reader.execute("SELECT count(*) FROM coverage_by_outlet_daily").fetchone()
        assert reader.execute("SELECT count(*) FROM feed_health").fetchone() == (0,)
        assert reader.execute("SELECT count(*) FROM articles WHERE search_tsv @@ "
                              "newsmon_query('regimen')").fetchone() == (1,)


@pytest.mark.parametrize("table", ["subscribers", "alerts"])
def test_a_reader_cannot_see_subscribers_or_their_alerts(db_url, stocked, role_name,
                                                         table) -> None:
    with admin(db_url) as conn:
        grant_reader(conn, role_name)
    with login(db_url, role_name) as reader, pytest.raises(errors.InsufficientPrivilege):
        reader.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))


@pytest.mark.parametrize("statement", [
    "INSERT INTO articles (url, canonical_url, content_hash) VALUES ('u', 'u', 'h')",
    "UPDATE articles SET title = 'defaced'",
    "DELETE FROM matches",
    "TRUNCATE articles",
    "UPDATE subscribers SET email = 'x@example.org'",
    "REFRESH MATERIALIZED VIEW story_overview",
    "CREATE TABLE mine (id int)",
])
def test_a_reader_cannot_write_even_after_leaving_read_only_mode(db_url, stocked, role_name,
                                                                 statement) -> None:
    with admin(db_url) as conn:
        grant_reader(conn, role_name)
    with login(db_url, role_name) as reader:
        # The read-only default is a convenience the reader can switch off; privileges are not.
        reader.execute("SET default_transaction_read_only = off")
        with pytest.raises(errors.InsufficientPrivilege):
            reader.execute(statement)
    with admin(db_url) as conn:
        assert conn.execute("SELECT title FROM articles").fetchall() == [("Maduro",)]
        assert conn.execute("SELECT count(*) FROM matches").fetchone() == (1,)


def test_a_reader_session_is_read_only_by_default(db_url, role_name) -> None:
    with admin(db_url) as conn:
        grant_reader(conn, role_name)
    with login(db_url, role_name) as reader:
        assert reader.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        assert reader.execute("SHOW statement_timeout").fetchone() == ("1min",)
        with pytest.raises(errors.ReadOnlySqlTransaction):
            reader.execute("CREATE TEMP TABLE scratch (id int)")


def test_statement_timeout_stops_a_long_query(db_url, role_name) -> None:
    with admin(db_url) as conn:
        grant_reader(conn, role_name, statement_timeout="200ms")
    with login(db_url, role_name) as reader:
        assert reader.execute("SHOW statement_timeout").fetchone() == ("200ms",)
        with pytest.raises(errors.QueryCanceled, match="statement timeout"):
            reader.execute("SELECT pg_sleep(30)")


def test_granting_again_updates_the_login_and_hashes_the_password(db_url, role_name) -> None:
    with admin(db_url) as conn:
        grant_reader(conn, role_name, statement_timeout="5s")
        grant_reader(conn, role_name, "s3cret 'quoted'", statement_timeout="7s")
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                              (role_name,)).fetchone()[0]
        members = conn.execute(
            """SELECT count(*) FROM pg_auth_members
               WHERE roleid = 'newsmon_reader'::regrole AND member = %s::regrole""",
            (role_name,)).fetchone()
    assert stored.startswith(("SCRAM-SHA-256$", "md5")) and "s3cret" not in stored
    assert members == (1,)
    with login(db_url, role_name) as reader:
        assert reader.execute("SHOW statement_timeout").fetchone() == ("7s",)


@pytest.mark.parametrize("name", ["Robert'); DROP ROLE postgres; --", "newsmon_reader",
                                  "pg_monitor", "UPPER", "x" * 64, ""])
def test_unsafe_or_reserved_names_are_refused(db_url, name) -> None:
    with admin(db_url) as conn, pytest.raises(ResearchError, match="not a valid reader name"):
        grant_reader(conn, name)


def test_an_existing_role_that_is_not_a_reader_is_left_alone(db_url) -> None:
    with admin(db_url) as conn:
        owner = conn.execute("SELECT current_user").fetchone()[0]
        if not owner.islower():
            pytest.skip("the server's user name is not a valid reader name")
        with pytest.raises(ResearchError, match="already exists and is not a reader"):
            grant_reader(conn, owner)
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("off",)


def test_the_command_prints_a_working_connection_string(settings: Settings, db_url,
                                                         role_name) -> None:
    done = CliRunner().invoke(grant_reader_command, [role_name, "--password", "none"],
                              obj=settings.replace(database_url=db_url))
    assert done.exit_code == 0, done.output
    conninfo = done.stdout.strip()
    with psycopg.connect(conninfo) as reader:
        assert reader.execute("SELECT current_user").fetchone() == (role_name,)
        assert reader.execute("SELECT count(*) FROM articles").fetchone() == (0,)


def test_the_command_generates_a_password_by_default(settings: Settings, db_url,
                                                     role_name) -> None:
    done = CliRunner().invoke(grant_reader_command, [role_name],
                              obj=settings.replace(database_url=db_url))
    assert done.exit_code == 0, done.output
    params = psycopg.conninfo.conninfo_to_dict(done.stdout.strip())
    assert params["user"] == role_name and len(params["password"]) >= 20


def test_migrating_a_new_database_copes_with_an_existing_reader_role(template_db,
                                                                    empty_db_url) -> None:
    with admin(empty_db_url) as conn:
        before = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'newsmon_reader'"
                              ).fetchone()
        apply_migrations(conn)  # the session template already created the role
        readable = conn.execute(
            """SELECT has_table_privilege('newsmon_reader', 'articles', 'SELECT'),
                      has_table_privilege('newsmon_reader', 'subscribers', 'SELECT'),
                      has_table_privilege('newsmon_reader', 'articles', 'INSERT')""").fetchone()
    assert before == (1,)
    assert readable == (True, False, False)
