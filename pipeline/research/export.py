"""Streaming exports of articles (CSV, JSON lines, Parquet) in constant memory."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import date, datetime
from typing import Any, BinaryIO

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

from pipeline.research.filters import ResearchError, day_end, moment

EXPORT_FORMATS = ("csv", "jsonl", "parquet")

# (column, Arrow type name) in output order; the SELECT below yields them in this order.
EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("article_id", "int64"), ("published_at", "timestamp"), ("discovered_at", "timestamp"),
    ("source", "string"), ("outlet", "string"), ("lang", "string"), ("title", "string"),
    ("url", "string"), ("author", "string"), ("story_id", "int64"), ("relevant", "bool"),
    ("score", "float32"), ("entities", "list"), ("text", "string"),
)

_EXPORT_QUERY = """
    SELECT a.id, a.published_at, a.discovered_at, s.name, newsmon_outlet(a.site_name, a.url),
           a.lang, a.title, a.url, a.author, a.story_id, coalesce(m.relevant, false), m.score,
           ARRAY(SELECT DISTINCT e.entity_id FROM article_entities e
                 WHERE e.article_id = a.id
                   AND (%(watchlist)s::text IS NULL OR e.watchlist = %(watchlist)s)
                 ORDER BY 1),
           a.text
    FROM articles a
    LEFT JOIN sources s ON s.id = a.source_id
    LEFT JOIN LATERAL (
        SELECT bool_or(m.relevant) AS relevant, max(m.score) AS score FROM matches m
        WHERE m.article_id = a.id
          AND (%(watchlist)s::text IS NULL OR m.watchlist = %(watchlist)s)) m ON true
    WHERE {where}
    ORDER BY a.published_at, a.id"""


def export_articles(conn: psycopg.Connection, out: BinaryIO, *, fmt: str,
                    since: date | None = None, until: date | None = None,
                    relevant: bool = False, watchlist: str | None = None,
                    batch_size: int = 500) -> int:
    """Write the articles published from `since` through `until` (UTC dates, inclusive)
    to `out` as csv, jsonl or parquet; return how many were written.

    Rows come from a server-side cursor and are written a batch at a time, so memory
    stays flat however many millions of rows there are.
    """
    if fmt not in EXPORT_FORMATS:
        raise ResearchError(f"export: unknown format {fmt!r} (use {', '.join(EXPORT_FORMATS)})")
    writer = {"csv": _CsvWriter, "jsonl": _JsonlWriter, "parquet": _ParquetWriter}[fmt](out)
    written = 0
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute("SET LOCAL TIME ZONE 'UTC'")
            with conn.cursor(name="newsmon_export") as cursor:
                cursor.execute(_export_statement(since=since, until=until, relevant=relevant),
                               {"since": moment(since), "until": day_end(until),
                                "watchlist": watchlist})
                while rows := cursor.fetchmany(batch_size):
                    writer.write(rows)
                    written += len(rows)
    finally:
        writer.close()  # hands `out` back to the caller open, even after an error
    return written


def _export_statement(*, since: date | None, until: date | None,
                      relevant: bool) -> sql.Composed:
    # published_at is indexed; the few articles without one fall back to discovered_at.
    clauses = ["true"]
    if since is not None:
        clauses.append("(a.published_at >= %(since)s"
                       " OR (a.published_at IS NULL AND a.discovered_at >= %(since)s))")
    if until is not None:
        clauses.append("(a.published_at < %(until)s"
                       " OR (a.published_at IS NULL AND a.discovered_at < %(until)s))")
    if relevant:
        clauses.append("m.relevant")
    return sql.SQL(_EXPORT_QUERY).format(where=sql.SQL(" AND ".join(clauses)))


def _plain(value: Any) -> Any:
    """A JSON/CSV-friendly value: ISO 8601 times."""
    return value.isoformat() if isinstance(value, datetime) else value


class _CsvWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        self._csv = csv.writer(self._text)
        self._csv.writerow([name for name, _ in EXPORT_COLUMNS])

    def write(self, rows: list[tuple]) -> None:
        self._csv.writerows(
            [";".join(v) if isinstance(v, list) else _plain(v) for v in row] for row in rows)

    def close(self) -> None:
        self._text.flush()
        self._text.detach()  # the caller owns `out`


class _JsonlWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._names = [name for name, _ in EXPORT_COLUMNS]

    def write(self, rows: list[tuple]) -> None:
        lines = (json.dumps(dict(zip(self._names, map(_plain, row), strict=True)),
                            ensure_ascii=False) + "\n" for row in rows)
        self._out.write("".join(lines).encode("utf-8"))

    def close(self) -> None:
        self._out.flush()


class _ParquetWriter:
    def __init__(self, out: BinaryIO) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ResearchError("export: parquet needs pyarrow "
                                "(pip install 'newsmon[parquet]')") from exc
        types = {"int64": pa.int64(), "timestamp": pa.timestamp("us", tz="UTC"),
                 "string": pa.string(), "bool": pa.bool_(), "float32": pa.float32(),
                 "list": pa.list_(pa.string())}
        self._pa = pa
        self._schema = pa.schema([(name, types[kind]) for name, kind in EXPORT_COLUMNS])
        self._writer = pq.ParquetWriter(out, self._schema, compression="zstd")

    def write(self, rows: list[tuple]) -> None:
        columns = list(zip(*rows, strict=True))
        self._writer.write_table(self._pa.Table.from_arrays(
            [self._pa.array(col, type=field.type) for col, field in zip(
                columns, self._schema, strict=True)], schema=self._schema))

    def close(self) -> None:
        self._writer.close()
