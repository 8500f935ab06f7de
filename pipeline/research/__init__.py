"""The researcher's store: full-text search, streaming exports, read-only SQL, the schema
document and reader logins.

The SQL objects these use (text search configurations, `newsmon_query()`, the views and
the `newsmon_reader` role) come from `sql/0009_research.sql`. Every value a user types
reaches the database as a bound parameter or a quoted literal, never as SQL text, except
the query of `run_read_only`, which is SQL by design and runs in a READ ONLY transaction.
The commands run them on a reader login (`pipeline.store.connection.connect_reader`): a read-only
transaction is a convenience, the reader's privileges are the defence.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
from psycopg import pq, sql

from pipeline.dates import as_utc
from pipeline.store import roles

log = logging.getLogger(__name__)

READER_ROLE = roles.READER_ROLE
SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
EXPORT_FORMATS = ("csv", "jsonl", "parquet")

_HEADLINE_OPTIONS = ('MaxFragments=2, MinWords=8, MaxWords=30, FragmentDelimiter=" … ", '
                     "StartSel=<b>, StopSel=</b>")


class ResearchError(ValueError):
    """A research command cannot do what was asked; the message says why."""


# --- search ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchHit:
    article_id: int
    title: str
    url: str
    outlet: str
    lang: str | None
    published_at: datetime | None
    story_id: int | None
    rank: float
    snippet: str  # matched words between <b> and </b>


def search_articles(conn: psycopg.Connection, query: str, *, lang: str | None = None,
                    since: date | datetime | None = None, entity: str | None = None,
                    relevant: bool = False, watchlist: str | None = None,
                    limit: int = 20) -> list[SearchHit]:
    """Full-text search (web-search syntax), stemmed and accent-insensitive, best first.

    Without `lang` every article is searched in its own language; `relevant` keeps the
    articles relevant to `watchlist` (to any watchlist when it is None).
    """
    if not conn.execute("SELECT numnode(newsmon_query(%s, %s))", (query, lang)).fetchone()[0]:
        raise ResearchError(f"search: {query!r} has no searchable words (only stop words?)")
    if lang is None:
        # The first test uses the GIN index; the second keeps only articles that match
        # in their own language (an English stem can collide with a Spanish one).
        match = sql.SQL("a.search_tsv @@ newsmon_query(%(q)s) AND a.search_tsv @@ "
                        "websearch_to_tsquery(newsmon_ts_config(a.lang), %(q)s)")
    else:
        match = sql.SQL("a.search_tsv @@ newsmon_query(%(q)s, %(lang)s) AND a.lang = %(lang)s")
    where = sql.SQL(" AND ").join([match, *_article_filters(
        since=since, entity=entity, relevant=relevant, watchlist=watchlist)])
    statement = sql.SQL("""
        WITH hits AS (
            SELECT a.id, a.title, a.url, a.site_name, a.lang, a.text, a.published_at, a.story_id,
                   ts_rank(a.search_tsv,
                           websearch_to_tsquery(newsmon_ts_config(a.lang), %(q)s)) AS rank
            FROM articles a
            WHERE {where}
            ORDER BY rank DESC, a.published_at DESC NULLS LAST, a.id
            LIMIT %(limit)s)
        SELECT id, title, url, newsmon_outlet(site_name, url), lang, published_at, story_id, rank,
               ts_headline(newsmon_ts_config(lang), left(text, 200000),
                           websearch_to_tsquery(newsmon_ts_config(lang), %(q)s), %(options)s)
        FROM hits
        ORDER BY rank DESC, published_at DESC NULLS LAST, id""").format(where=where)
    params = {"q": query, "lang": lang, "since": _moment(since), "entity": entity,
              "watchlist": watchlist, "limit": limit, "options": _HEADLINE_OPTIONS}
    return [_hit(row) for row in conn.execute(statement, params)]


def search_titles(conn: psycopg.Connection, text: str, *, lang: str | None = None,
                  since: date | datetime | None = None, entity: str | None = None,
                  relevant: bool = False, watchlist: str | None = None,
                  limit: int = 20) -> list[SearchHit]:
    """Fuzzy headline search (trigram word similarity, accents ignored): typos welcome."""
    if not text.strip():
        raise ResearchError("search: empty title query")
    filters = _article_filters(since=since, entity=entity, relevant=relevant,
                               watchlist=watchlist)
    if lang is not None:
        filters.append(sql.SQL("a.lang = %(lang)s"))
    where = sql.SQL(" AND ").join(
        [sql.SQL("newsmon_unaccent(a.title) %%> newsmon_unaccent(%(q)s)"), *filters])
    statement = sql.SQL("""
        SELECT a.id, a.title, a.url, newsmon_outlet(a.site_name, a.url), a.lang,
               a.published_at, a.story_id,
               word_similarity(newsmon_unaccent(%(q)s), newsmon_unaccent(a.title)) AS rank,
               a.title
        FROM articles a
        WHERE {where}
        ORDER BY rank DESC, a.published_at DESC NULLS LAST, a.id
        LIMIT %(limit)s""").format(where=where)
    params = {"q": text, "lang": lang, "since": _moment(since), "entity": entity,
              "watchlist": watchlist, "limit": limit}
    return [_hit(row) for row in conn.execute(statement, params)]


def _article_filters(*, since: date | datetime | None, entity: str | None, relevant: bool,
                     watchlist: str | None) -> list[sql.Composable]:
    """WHERE clauses on `articles a`; the values are bound by name by the caller."""
    clauses: list[sql.Composable] = []
    if since is not None:
        # published_at is indexed; the few articles without one fall back to discovered_at.
        clauses.append(sql.SQL("(a.published_at >= %(since)s OR "
                               "(a.published_at IS NULL AND a.discovered_at >= %(since)s))"))
    if entity is not None:
        clauses.append(sql.SQL(
            "EXISTS (SELECT 1 FROM article_entities e WHERE e.article_id = a.id "
            "AND e.entity_id = %(entity)s)"))
    if relevant:
        clauses.append(sql.SQL(
            "EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.relevant "
            "AND (%(watchlist)s::text IS NULL OR m.watchlist = %(watchlist)s))"))
    return clauses


def _moment(value: date | datetime | None) -> datetime | None:
    """A date means its start in UTC, whatever the session's time zone; so does a naive
    datetime (it used to mean the session's zone, unlike everywhere else in newsmon)."""
    return as_utc(value) if value is not None else None


def _hit(row: Sequence[Any]) -> SearchHit:
    article_id, title, url, outlet, lang, published_at, story_id, rank, snippet = row
    return SearchHit(article_id=article_id, title=title, url=url, outlet=outlet, lang=lang,
                     published_at=published_at, story_id=story_id, rank=float(rank),
                     snippet=snippet or "")


# --- export ----------------------------------------------------------------------------------

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
                               {"since": _moment(since), "until": _day_end(until),
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


def _day_end(day: date | None) -> datetime | None:
    return None if day is None else _moment(day) + timedelta(days=1)


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


# --- read-only SQL ---------------------------------------------------------------------------


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


# --- materialised views ----------------------------------------------------------------------


def refresh_views(conn: psycopg.Connection) -> dict[str, int]:
    """Refresh every materialised view (concurrently, so readers are never blocked) and
    record when in `view_refreshes`. Returns milliseconds per view.

    Maintenance calls this; any materialised view a later migration adds is included.
    """
    names = [row[0] for row in conn.execute(
        "SELECT matviewname FROM pg_matviews WHERE schemaname = current_schema() ORDER BY 1")]
    durations = {}
    for name in names:
        started = time.monotonic()
        with conn.transaction():
            conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {} {}").format(
                sql.SQL("CONCURRENTLY" if _has_unique_index(conn, name) else ""),
                sql.Identifier(name)))
            durations[name] = round((time.monotonic() - started) * 1000)
            conn.execute(
                """INSERT INTO view_refreshes (view_name, refreshed_at, duration_ms)
                   VALUES (%s, now(), %s)
                   ON CONFLICT (view_name) DO UPDATE
                   SET refreshed_at = EXCLUDED.refreshed_at, duration_ms = EXCLUDED.duration_ms""",
                (name, durations[name]))
        log.info("research: refreshed %s in %d ms", name, durations[name])
    return durations


def _has_unique_index(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute(
        """SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                          JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = current_schema() AND c.relname = %s
                            AND i.indisunique AND i.indpred IS NULL)""",
        (relation,)).fetchone()[0]


# --- reader logins ---------------------------------------------------------------------------


def grant_reader(conn: psycopg.Connection, name: str, password: str | None = None, *,
                 statement_timeout: str | None = None) -> None:
    """Create (or update) the login `name`, a member of newsmon_reader (see
    `pipeline.store.roles.grant_login`); `statement_timeout` overrides the group's."""
    try:
        roles.grant_login(conn, name, role="reader", password=password,
                          statement_timeout=statement_timeout, command="grant-reader")
    except roles.RoleError as exc:
        raise ResearchError(str(exc)) from exc


def reader_conninfo(url: str, name: str, password: str | None) -> str:
    """The connection string a researcher uses: the same server and database, their login."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    params.update(user=name, password=password)
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v})


# --- schema document -------------------------------------------------------------------------

_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialised view"}
_DOC_HEADER = f"""# newsmon database schema

<!-- Generated by `newsmon db schema-doc` from the database's own COMMENT ON statements.
Do not edit: change the comment in a migration and regenerate. -->

Every table, view and column below is documented in the database itself: `\\d+ name` in
psql shows the same text. Materialised views are refreshed by maintenance; `view_refreshes`
says when. The *reader* column says whether the read-only `{READER_ROLE}` role (the
researchers' logins) may SELECT it.
"""


def render_schema_doc(conn: psycopg.Connection) -> str:
    """Markdown describing every table, view, column and function from COMMENT ON."""
    relations = conn.execute(
        """SELECT c.oid, c.relname, c.relkind, coalesce(obj_description(c.oid, 'pg_class'), ''),
                  CASE WHEN to_regrole(%s) IS NULL THEN false
                       ELSE has_table_privilege(%s, c.oid, 'SELECT') END
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
           ORDER BY CASE c.relkind WHEN 'r' THEN 0 WHEN 'p' THEN 0 WHEN 'v' THEN 1 ELSE 2 END,
                    c.relname""", (READER_ROLE, READER_ROLE)).fetchall()
    lines = [
        _DOC_HEADER,
        "| name | kind | reader | description |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| [{name}](#{name}) | {_KINDS[kind]} | {'yes' if readable else 'no'} | "
              f"{_cell(comment)} |" for _, name, kind, comment, readable in relations]
    for oid, name, kind, comment, _ in relations:
        lines += ["", f"## {name}", "", f"*{_KINDS[kind]}.* {comment}".rstrip(), "",
                  "| column | type | description |", "| --- | --- | --- |"]
        lines += [f"| {column} | {kind_} | {_cell(text)} |"
                  for column, kind_, text in _columns(conn, oid)]
        indexes = _indexes(conn, oid)
        if indexes:
            lines += ["", "Indexes: " + "; ".join(f"`{i}`" for i in indexes) + "."]
    lines += _functions_section(conn) + _text_search_section(conn)
    return "\n".join(lines) + "\n"


def _columns(conn: psycopg.Connection, oid: int) -> list[tuple[str, str, str]]:
    return conn.execute(
        """SELECT a.attname,
                  format_type(a.atttypid, a.atttypmod)
                  || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                  || CASE WHEN a.attgenerated = 's' THEN ' (generated)' ELSE '' END,
                  coalesce(col_description(a.attrelid, a.attnum), '')
           FROM pg_attribute a
           WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
           ORDER BY a.attnum""", (oid,)).fetchall()


def _indexes(conn: psycopg.Connection, oid: int) -> list[str]:
    rows = conn.execute(
        """SELECT regexp_replace(pg_get_indexdef(i.indexrelid), '^.* USING ', '')
                  || CASE WHEN i.indisunique THEN ' unique' ELSE '' END
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           WHERE i.indrelid = %s ORDER BY c.relname""", (oid,)).fetchall()
    return [row[0] for row in rows]


def _functions_section(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        """SELECT p.proname || '(' || pg_get_function_arguments(p.oid) || ') → '
                  || pg_get_function_result(p.oid),
                  coalesce(obj_description(p.oid, 'pg_proc'), '')
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = current_schema()
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
           ORDER BY 1""").fetchall()
    if not rows:
        return []
    return ["", "## Functions", "", "| function | description |", "| --- | --- |",
            *(f"| `{_cell(signature)}` | {_cell(comment)} |" for signature, comment in rows)]


def _text_search_section(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        """SELECT c.cfgname, coalesce(obj_description(c.oid, 'pg_ts_config'), '')
           FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
           WHERE n.nspname = current_schema() ORDER BY 1""").fetchall()
    if not rows:
        return []
    return ["", "## Text search configurations", "", "| configuration | description |",
            "| --- | --- |", *(f"| {name} | {_cell(comment)} |" for name, comment in rows)]


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")
