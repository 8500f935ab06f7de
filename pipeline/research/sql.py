"""One query a researcher typed, in a READ ONLY transaction on a reader login (a read-only
transaction is a convenience; the reader's privileges are the defence)."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True, kw_only=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool  # more rows existed than were fetched


def run_read_only(conn: psycopg.Connection, query: str, *, max_rows: int = 1000,
                  timeout_s: float | None = None) -> QueryResult:
    """Run one statement in a READ ONLY transaction that is always rolled back.

    READ ONLY stops plain writes only; COPY TO PROGRAM, server-file functions and
    advisory locks pass it. `conn` must therefore be a reader login's
    (`pipeline.store.connection.connect_reader`), whose privileges stop those.

    Rows are streamed and the statement cancelled after `max_rows`, so a careless
    `SELECT * FROM articles` costs no memory.
    """
    with conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION READ ONLY")
        if timeout_s:
            conn.execute("SELECT set_config('statement_timeout', %s, true)",
                         (f"{int(timeout_s * 1000)}ms",))
        columns = _describe(conn, query)
        with conn.cursor() as cursor:
            stream = cursor.stream(query)
            rows = tuple(itertools.islice(stream, max_rows + 1))
            stream.close()
    return QueryResult(columns=columns, rows=rows[:max_rows], truncated=len(rows) > max_rows)


def _describe(conn: psycopg.Connection, query: str) -> tuple[str, ...]:
    """Column names without running the query (a stream that yields no row has none)."""
    prepared = conn.pgconn.prepare(b"", query.encode())
    if prepared.status != pq.ExecStatus.COMMAND_OK:
        raise psycopg.errors.error_from_result(prepared, encoding=conn.info.encoding)
    described = conn.pgconn.describe_prepared(b"")
    return tuple((described.fname(i) or b"?").decode(conn.info.encoding)
                 for i in range(described.nfields))
