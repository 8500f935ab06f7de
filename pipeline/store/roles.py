"""Who may do what in PostgreSQL: the group roles, the logins that join them, and the
watchdog that holds researchers to limits they could otherwise lift themselves.

The groups come from the migrations (`sql/0009_research.sql`, `sql/0013_least_privilege.sql`):
`newsmon_owner` owns the schema and alone may take the advisory locks, `newsmon_reader`
may read the research tables, `newsmon_web` may read and change subscriptions. Logins
join one group each (`newsmon db grant-login`); creating them takes a superuser, or a
role with CREATEROLE.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import psycopg
from psycopg import errors, sql

log = logging.getLogger(__name__)

OWNER_ROLE = "newsmon_owner"
READER_ROLE = "newsmon_reader"
WEB_ROLE = "newsmon_web"
GROUPS = {"owner": OWNER_ROLE, "reader": READER_ROLE, "web": WEB_ROLE}

# The logins the embedded server is given; an external server gets them from an operator.
OWNER_LOGIN = "newsmon"
READER_LOGIN = "newsmon_research"

MIN_PASSWORD_LENGTH = 16
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(ValueError):
    """A login cannot be created or changed as asked; the message says why."""


def grant_login(conn: psycopg.Connection, name: str, *, role: str, password: str | None = None,
                statement_timeout: str | None = None, command: str = "grant-login") -> None:
    """Create (or update) the login `name` as a member of one group (`GROUPS`).

    Role settings are not inherited from a group, so the group's settings (a reader's
    timeouts and read-only default) are copied onto the login; `statement_timeout`
    overrides. A new login without `password` has none (trust or peer authentication);
    an existing one keeps its own. The password is hashed here, so the server log never
    sees it in clear. Refuses a name that exists outside the group: granting must never
    widen what some other role may do.
    """
    group = GROUPS[role]
    if not _ROLE_NAME.match(name) or name.startswith("pg_") or name in GROUPS.values():
        raise RoleError(f"{command}: {name!r} is not a valid {role} name "
                        "(lower-case letters, digits and _, at most 63)")
    try:
        _grant_login(conn, name, group=group, role=role, password=password,
                     statement_timeout=statement_timeout, command=command)
    except (errors.DuplicateObject, errors.UniqueViolation):
        # Roles are cluster-wide: another database's session created it in between.
        _grant_login(conn, name, group=group, role=role, password=password,
                     statement_timeout=statement_timeout, command=command)


def _grant_login(conn: psycopg.Connection, name: str, *, group: str, role: str,
                 password: str | None, statement_timeout: str | None, command: str) -> None:
    with conn.transaction():
        found = conn.execute("SELECT oid FROM pg_roles WHERE rolname = %s", (group,)).fetchone()
        if found is None:
            raise RoleError(f"{command}: role {group} is missing; run `newsmon db migrate` "
                            "first (as a superuser)")
        existing = conn.execute(
            """SELECT pg_has_role(r.oid, %s, 'MEMBER') AND NOT r.rolsuper
               FROM pg_roles r WHERE r.rolname = %s""", (found[0], name)).fetchone()
        if existing is not None and not existing[0]:
            article = "an" if role[0] in "aeiou" else "a"
            raise RoleError(f"{command}: role {name!r} already exists and is not {article} "
                            f"{role}; choose another name")
        login = sql.Identifier(name)
        statement = sql.SQL("ALTER ROLE {} LOGIN" if existing else "CREATE ROLE {} LOGIN").format(
            login)
        if password is not None:
            hashed = conn.pgconn.encrypt_password(password.encode(), name.encode())
            statement += sql.SQL(" PASSWORD {}").format(sql.Literal(hashed.decode()))
        conn.execute(statement)
        if not existing:
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), login))
        for setting, value in _group_settings(conn, group, statement_timeout=statement_timeout):
            conn.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(
                login, sql.Identifier(setting), sql.Literal(value)))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(conn.info.dbname), sql.Identifier(group)))


def _group_settings(conn: psycopg.Connection, group: str, *,
                    statement_timeout: str | None) -> list[tuple[str, str]]:
    row = conn.execute(
        """SELECT setconfig FROM pg_db_role_setting
           WHERE setdatabase = 0 AND setrole = (SELECT oid FROM pg_roles WHERE rolname = %s)""",
        (group,)).fetchone()
    settings = dict(item.split("=", 1) for item in (row[0] if row else []))
    if statement_timeout is not None:
        settings["statement_timeout"] = statement_timeout
    return sorted(settings.items())


def is_reader_session(conn: psycopg.Connection) -> bool:
    """Whether the session's own login is a reader and nothing more.

    The session user, not the current role: a session that may SET ROLE to a writer is
    a writer. Superusers and members of the owner, the web group or the server-file
    roles are refused even when they are readers too.
    """
    return bool(conn.execute(
        """SELECT coalesce(pg_has_role(r.oid, to_regrole(%s), 'MEMBER'), false)
                  AND NOT r.rolsuper AND NOT r.rolbypassrls
                  AND NOT EXISTS (
                      SELECT 1 FROM unnest(%s::text[]) AS g(name)
                      WHERE coalesce(pg_has_role(r.oid, to_regrole(g.name), 'MEMBER'), false))
           FROM pg_roles r WHERE r.rolname = session_user""",
        (READER_ROLE, [OWNER_ROLE, WEB_ROLE, "pg_execute_server_program", "pg_read_server_files",
                       "pg_write_server_files", "pg_signal_backend"])).fetchone()[0])


# --- the watchdog ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StoppedSession:
    pid: int
    login: str
    reason: str  # "statement" (ran too long) or "idle-in-transaction" or "blocking"


# Reader sessions of this database, each with the limits of its login, else of
# newsmon_reader (a login's own setting wins, as it does when a session starts; a
# per-database one wins over a global one). No setting or '0': no limit. A bare number
# is milliseconds, as in postgresql.conf. No parameters: `%` is a LIKE wildcard here.
_READER_SESSIONS = """
WITH sessions AS (
    SELECT a.pid, r.oid AS login_oid, r.rolname AS login, a.state,
           clock_timestamp() - a.query_start AS running,
           clock_timestamp() - a.state_change AS idle
    FROM pg_stat_activity a
    JOIN pg_roles r ON r.oid = a.usesysid
    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
      AND coalesce(pg_has_role(r.oid, to_regrole('newsmon_reader'), 'MEMBER'), false)
      AND NOT r.rolsuper
      AND NOT coalesce(pg_has_role(r.oid, to_regrole('newsmon_owner'), 'MEMBER'), false)
), settings AS (
    SELECT DISTINCT ON (s.pid, x.name) s.pid, x.name,
           CASE WHEN x.value ~ '^[0-9]+$' THEN x.value::bigint * interval '1 ms'
                ELSE x.value::interval END AS value
    FROM sessions s
    JOIN pg_db_role_setting d ON d.setrole IN (s.login_oid, to_regrole('newsmon_reader'))
     AND d.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
    CROSS JOIN LATERAL unnest(d.setconfig) AS c(setting)
    CROSS JOIN LATERAL (SELECT split_part(c.setting, '=', 1) AS name,
                               split_part(c.setting, '=', 2) AS value) x
    WHERE x.name IN ('statement_timeout', 'idle_in_transaction_session_timeout')
    ORDER BY s.pid, x.name, d.setrole = s.login_oid DESC, d.setdatabase <> 0 DESC
), limits AS (
    SELECT s.*, st.value AS statement_limit, it.value AS idle_limit
    FROM sessions s
    LEFT JOIN settings st ON st.pid = s.pid AND st.name = 'statement_timeout'
    LEFT JOIN settings it ON it.pid = s.pid AND it.name = 'idle_in_transaction_session_timeout'
)
"""


def stop_overdue_readers(conn: psycopg.Connection) -> list[StoppedSession]:
    """Terminate reader sessions running or idling in a transaction past their limits.

    A reader's statement and idle timeouts are role settings, which the reader may SET
    away in its own session; this enforces them from the owner's side, so a forgotten
    `BEGIN` or a runaway query cannot hold locks or old row versions for ever. The
    cycle calls it at its start and maintenance daily. Needs pg_signal_backend (granted
    to newsmon_owner by the migration) or a superuser; without it, it logs and does nothing.
    """
    overdue = _READER_SESSIONS + """
        SELECT pid, login, CASE WHEN state = 'active' THEN 'statement'
                                ELSE 'idle-in-transaction' END
        FROM limits
        WHERE (state = 'active' AND statement_limit > interval '0' AND running > statement_limit)
           OR (state LIKE 'idle in transaction%' AND idle_limit > interval '0'
               AND idle > idle_limit)"""
    return _terminate(conn, overdue, "over its limit")


def stop_lock_holding_readers(conn: psycopg.Connection) -> list[StoppedSession]:
    """Terminate reader sessions holding a lock on a relation of this database.

    Called when a migration timed out waiting for a lock: a researcher's open
    transaction must not hold a schema change (and, queued behind it, the cycle) up.
    """
    holding = _READER_SESSIONS + """
        SELECT DISTINCT l.pid, l.login, 'blocking'
        FROM limits l JOIN pg_locks k ON k.pid = l.pid
        WHERE k.granted AND k.locktype = 'relation'
          AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
    return _terminate(conn, holding, "holding a lock a migration waits for")


def _terminate(conn: psycopg.Connection, query: str, why: str) -> list[StoppedSession]:
    stopped = []
    try:
        with conn.transaction():
            for pid, login, reason in conn.execute(query).fetchall():
                if conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]:
                    stopped.append(StoppedSession(pid=pid, login=login, reason=reason))
    except errors.InsufficientPrivilege as exc:
        log.warning("db: cannot stop reader sessions %s (grant pg_signal_backend to %s): %s",
                    why, OWNER_ROLE, str(exc).strip())
        return []
    for session in stopped:
        log.warning("db: stopped reader session %d of %s (%s)", session.pid, session.login, why)
    return stopped
