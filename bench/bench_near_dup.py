"""Cost of one near-duplicate lookup as the archive grows (10k vs 1M stored signatures).

    python bench/bench_near_dup.py                          # 10k and 1M (~10 min on 2 cores)
    python bench/bench_near_dup.py --sizes 10000,100000     # quicker
    python bench/bench_near_dup.py --url postgresql://...   # that server (default: as newsmon)

Every size gets a fresh database on the server, migrated like production, seeded with
COPY (indexes and constraints dropped during the load and rebuilt after, as a backfill
would), vacuumed, and dropped afterwards (``--keep`` keeps it). The lookup timed is the
store's own ``pipeline.store.articles.find_near_duplicate``.

Synthetic but honest: every seeded article has a full 1 KB signature in ``articles.minhash``
and its 32 band keys computed by ``lsh_bands`` from that signature. To reproduce the rate at
which unrelated real articles share a band (about 144 per lookup per 1M stored,
docs/decisions.md "Dedup"), the values of each band are drawn from a pool of
32M/144 value pairs, so any two signatures share a given band with probability 144/32M.
A lookup at 1M therefore meets ~144 false candidates and at 10k ~1.4, the growth a real
archive shows. Seeded rows carry no title or text: a production row keeps its text in TOAST,
so the heap row a lookup reads is the same size give or take 200 bytes. Half the lookups are
new signatures (the common case, nothing found), half are copies of a stored article
keeping half its values (found).

Every timed lookup is one the archive has not seen, as in production: timing the same
signatures again would find their leaves of the band index already in memory and flatter
the large archive (0.42 instead of 0.60 ms at 1M with 128 MB of shared buffers). The band
index and the articles' primary key are loaded into shared buffers first (pg_prewarm,
when the server has it), as a long-running server holds them: every new article writes
32 random leaves and every lookup reads 32, so all of them are touched within a day.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.dedup.keys import LSH_BANDS, LSH_ROWS, NUM_PERM, lsh_bands
from pipeline.store import apply_migrations
from pipeline.store.articles import CANDIDATE_LIMIT, find_near_duplicate

FALSE_CANDIDATES_PER_MILLION = 144  # docs/decisions.md, "Dedup"
COPY_KEPT = 0.5  # share of signature values a "found" lookup keeps from its stored original
CHUNK = 50_000  # articles per COPY
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_TRAILER = struct.pack("!h", -1)
_BAND_ROW = np.dtype([("n", ">i2"), ("l1", ">i4"), ("band", ">i8"), ("l2", ">i4"),
                      ("article", ">i8")])
_URL = "https://seed.invalid/{:010d}"  # fixed width, so article rows are fixed-size records
_ARTICLE_ROW = np.dtype([
    ("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("url", "S31"),
    ("l3", ">i4"), ("canonical", "S31"), ("l4", ">i4"), ("hash", "S32"),
    ("l5", ">i4"), ("minhash", f"V{NUM_PERM * 4}"),
])


class Seeder:
    """Signatures whose band values come from small per-band pools (see module doc); with
    no false candidates wanted, fully random signatures (bands never collide)."""

    def __init__(self, rng: np.random.Generator, *,
                 false_candidates_per_million: float = FALSE_CANDIDATES_PER_MILLION) -> None:
        self.rng = rng
        self.pool = (round(LSH_BANDS * 1_000_000 / false_candidates_per_million)
                     if false_candidates_per_million > 0 else 0)  # value pairs per band
        self.pool_values = rng.integers(0, 2**32 - 1, size=(self.pool, LSH_BANDS * LSH_ROWS),
                                        dtype=np.uint64)
        # lsh_bands of pool row j gives band b's key for the value pair of row j at band b
        self.pool_keys = np.array([lsh_bands(row) for row in self.pool_values],
                                  dtype=np.int64).reshape(self.pool, LSH_BANDS)

    def signatures(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """`count` signatures (uint64, NUM_PERM wide) and their band keys."""
        sigs = self.rng.integers(0, 2**32 - 1, size=(count, NUM_PERM), dtype=np.uint64)
        if not self.pool:
            return sigs, np.array([lsh_bands(s) for s in sigs], dtype=np.int64)
        picks = self.rng.integers(0, self.pool, size=(count, LSH_BANDS))
        bands = np.arange(LSH_BANDS)
        sigs[:, : LSH_BANDS * LSH_ROWS] = self.pool_values.reshape(
            self.pool, LSH_BANDS, LSH_ROWS)[picks, bands].reshape(count, -1)
        return sigs, self.pool_keys[picks, bands]

    def copy_of(self, signature: np.ndarray) -> np.ndarray:
        copy = signature.copy()
        changed = self.rng.random(NUM_PERM) >= COPY_KEPT
        copy[changed] = self.rng.integers(0, 2**32 - 1, size=int(changed.sum()),
                                          dtype=np.uint64)
        return copy


# --- seeding ---------------------------------------------------------------------------------


def seed(conn: psycopg.Connection, seeder: Seeder, size: int, *,
         keep_ids: np.ndarray) -> dict[int, np.ndarray]:
    """Store `size` articles with signatures and bands; returns the signatures of `keep_ids`."""
    kept: dict[int, np.ndarray] = {}
    conn.execute("SET maintenance_work_mem = '512MB'")
    restore = _drop_for_load(conn)
    for start in range(1, size + 1, CHUNK):
        count = min(CHUNK, size - start + 1)
        sigs, keys = seeder.signatures(count)
        assert lsh_bands(sigs[0]) == keys[0].tolist(), "seeded keys must be the real ones"
        ids = np.arange(start, start + count)
        for article_id in keep_ids[(keep_ids >= start) & (keep_ids < start + count)]:
            kept[int(article_id)] = sigs[article_id - start]
        _copy_articles(conn, ids, sigs)
        _copy_bands(conn, ids, keys)
    for statement in restore:
        conn.execute(statement)
    conn.execute("SELECT setval('articles_id_seq', %s)", (size,))
    conn.execute("VACUUM (ANALYZE) articles")  # autovacuum's job in production: it sets the
    conn.execute("VACUUM (ANALYZE) article_bands")  # visibility map index-only scans need
    return kept


def _copy_articles(conn: psycopg.Connection, ids: np.ndarray, sigs: np.ndarray) -> None:
    rows = np.zeros(len(ids), dtype=_ARTICLE_ROW)
    rows["n"], rows["l1"], rows["l2"], rows["l3"], rows["l4"] = 5, 8, 31, 31, 32
    rows["l5"] = NUM_PERM * 4
    rows["id"] = ids
    urls = np.array([_URL.format(i).encode() for i in ids], dtype="S31")
    rows["url"], rows["canonical"] = urls, urls
    rows["hash"] = np.array([f"{i:032x}".encode() for i in ids], dtype="S32")
    rows["minhash"] = np.ascontiguousarray(sigs.astype("<u4")).view(f"V{NUM_PERM * 4}").ravel()
    with conn.cursor().copy("COPY articles (id, url, canonical_url, content_hash, minhash) "
                            "FROM STDIN (FORMAT binary)") as copy:
        copy.write(_HEADER + rows.tobytes() + _TRAILER)


def _copy_bands(conn: psycopg.Connection, ids: np.ndarray, keys: np.ndarray) -> None:
    rows = np.empty(keys.size, dtype=_BAND_ROW)
    rows["n"], rows["l1"], rows["l2"] = 2, 8, 8
    rows["band"] = keys.ravel()
    rows["article"] = np.repeat(ids, keys.shape[1])
    with conn.cursor().copy(
        "COPY article_bands (band_key, article_id) FROM STDIN (FORMAT binary)"
    ) as copy:
        copy.write(_HEADER + rows.tobytes() + _TRAILER)


def _drop_for_load(conn: psycopg.Connection) -> list[str]:
    """Drop the band table's constraints and both tables' plain indexes; return the
    statements that rebuild them exactly (the foreign key is validated again)."""
    restore = []
    for name, definition in conn.execute(
        """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
           WHERE conrelid = 'article_bands'::regclass ORDER BY contype DESC"""  # p before f
    ).fetchall():
        conn.execute(sql.SQL("ALTER TABLE article_bands DROP CONSTRAINT {}").format(
            sql.Identifier(name)))
        restore.append(f'ALTER TABLE article_bands ADD CONSTRAINT "{name}" {definition}')
    for name, definition in conn.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
           WHERE i.indrelid IN ('articles'::regclass, 'article_bands'::regclass)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"""
    ).fetchall():
        conn.execute(f"DROP INDEX {name}")
        restore.insert(0, definition)
    return restore


# --- timing ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Archive:
    """One seeded database and the lookups timed against it."""

    size: int
    conn: psycopg.Connection
    hits: list[list[np.ndarray]]  # per pass
    expected: list[list[int]]
    seed_s: float
    prewarmed: bool
    miss_ms: list[list[float]] = field(default_factory=list)  # per pass
    hit_ms: list[list[float]] = field(default_factory=list)
    select_1_ms: list[float] = field(default_factory=list)
    found: int = 0


def _time_ms(fn, *args) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn(*args)
    return (time.perf_counter() - started) * 1000, result


def time_pass(archive: Archive, misses: np.ndarray, number: int) -> None:
    """Pass `number`: its own lookups, and a bare round trip per lookup as the baseline."""
    conn = archive.conn
    archive.select_1_ms += [_time_ms(conn.execute, "SELECT 1")[0] for _ in misses]
    archive.miss_ms.append([_time_ms(find_near_duplicate, conn, s)[0] for s in misses])
    hit_ms = []
    for signature, article_id in zip(archive.hits[number], archive.expected[number],
                                     strict=True):
        ms, result = _time_ms(find_near_duplicate, conn, signature)
        hit_ms.append(ms)
        archive.found += result is not None and result.article_id == article_id
    archive.hit_ms.append(hit_ms)


def prewarm(conn: psycopg.Connection) -> bool:
    """Load the band index and the articles' key into shared buffers; False if the server
    lacks pg_prewarm (then the first lookups read from the OS, as after a restart)."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    except psycopg.Error:
        return False
    conn.execute("SELECT pg_prewarm('article_bands_pkey'), pg_prewarm('articles_pkey')")
    return True


@contextmanager
def same_cpu(conns: list[psycopg.Connection]) -> Iterator[None]:
    """Run this process and the connections' server backends on one CPU, meanwhile.

    On this 2-core VM a round trip costs 0.016 ms when the backend runs on the client's
    CPU and 0.07-0.1 ms when it must wake the other one, and which one a connection gets
    is luck that stays with the connection: it once made every 1M-row lookup 0.07 ms
    slower than the 10k ones. Pinning every size alike measures the lookup, not the
    scheduler. Skipped for a server on another machine or owned by another user.
    """
    before = os.sched_getaffinity(0)
    cpu = {min(before)}
    try:
        for conn in conns:
            os.sched_setaffinity(conn.info.backend_pid, cpu)
        os.sched_setaffinity(0, cpu)
    except OSError:
        pass
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def figures(archive: Archive, misses: np.ndarray) -> dict[str, Any]:
    conn = archive.conn
    candidates = [conn.execute(
        "SELECT count(DISTINCT article_id) FROM article_bands WHERE band_key = ANY(%s)",
        (lsh_bands(s),)).fetchone()[0] for s in misses]
    every_miss = [ms for one_pass in archive.miss_ms for ms in one_pass]
    hits = sum(map(len, archive.hits[1:]))  # [0] was the warm-up
    return {
        "lookup_ms": round(statistics.median(map(statistics.median, archive.miss_ms)), 3),
        "lookup_p90_ms": round(statistics.quantiles(every_miss, n=10)[-1], 3),
        "found_lookup_ms": round(statistics.median(map(statistics.median, archive.hit_ms)), 3),
        "found": f"{archive.found}/{hits}",
        "false_candidates_mean": round(statistics.mean(candidates), 2),
        "candidates_verified_max": CANDIDATE_LIMIT,
        "select_1_ms": round(statistics.median(archive.select_1_ms), 3),
        "seed_s": round(archive.seed_s, 1),
        "band_rows": conn.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = 'article_bands'"
        ).fetchone()[0],
        "bands_mb": conn.execute(
            "SELECT pg_total_relation_size('article_bands') / 1048576").fetchone()[0],
        "articles_mb": conn.execute(
            "SELECT pg_total_relation_size('articles') / 1048576").fetchone()[0],
        "shared_buffers": conn.execute("SHOW shared_buffers").fetchone()[0],
        "huge_pages": conn.execute("SHOW huge_pages_status").fetchone()[0],
        "prewarmed": archive.prewarmed,
        "plan": _plan(conn, misses[0]),
    }


def _plan(conn: psycopg.Connection, signature: np.ndarray) -> str:
    from pipeline.store.articles import _CANDIDATES  # the production query text, to show its plan

    lines = [row[0] for row in conn.execute(
        "EXPLAIN " + _CANDIDATES, {"keys": lsh_bands(signature), "limit": CANDIDATE_LIMIT})]
    return "; ".join(line.strip().removeprefix("->  ").split("  (cost")[0]
                     for line in lines if "Scan" in line)


# --- driver ----------------------------------------------------------------------------------


def measure(sizes: tuple[int, ...] = (10_000, 1_000_000), lookups: int = 200, *,
            url: str | None = None, repeats: int = 3, keep: bool = False,
            false_candidates_per_million: float = FALSE_CANDIDATES_PER_MILLION,
            log=lambda message: print(message, file=sys.stderr)) -> dict[str, Any]:
    """Seed a fresh database per size, then time `lookups` new lookups against each, size
    after size in `repeats` rounds (so load on the machine hits every size alike; every
    size gets the same signatures); each figure is the median of the per-pass medians.
    `ratio` is the largest size's lookup time over the smallest's."""
    url = url or _server_url()
    rng = np.random.default_rng(20261125)
    started = time.perf_counter()
    seeder = Seeder(rng, false_candidates_per_million=false_candidates_per_million)
    log(f"pool of {seeder.pool:,} value pairs per band in "
        f"{time.perf_counter() - started:.0f} s")
    misses = [seeder.signatures(lookups // 2)[0] for _ in range(repeats + 1)]  # 0: warm-up
    copies = lookups - lookups // 2
    with ExitStack() as stack:
        archives = []
        for size in sizes:
            db_url = stack.enter_context(_fresh_database(url, keep=keep))
            with psycopg.connect(db_url, autocommit=True) as seeding:
                apply_migrations(seeding)
                keep_ids = rng.choice(np.arange(1, size + 1), size=copies * (repeats + 1),
                                      replace=False)
                log(f"{size:,}: seeding")
                started = time.perf_counter()
                kept = seed(seeding, seeder, size, keep_ids=keep_ids)
                seed_s = time.perf_counter() - started
                prewarmed = prewarm(seeding)
            # lookups run on a connection of their own, as a cycle's would
            conn = stack.enter_context(psycopg.connect(db_url, autocommit=True))
            expected = [[int(i) for i in ids] for ids in np.split(keep_ids, repeats + 1)]
            archives.append(Archive(
                size=size, conn=conn, expected=expected, seed_s=seed_s, prewarmed=prewarmed,
                hits=[[seeder.copy_of(kept[i]) for i in ids] for ids in expected]))
            log(f"{size:,}: seeded in {archives[-1].seed_s:.0f} s")
        with same_cpu([archive.conn for archive in archives]):
            for archive in archives:  # warm-up, untimed: caches and prepared statements
                for signature in [*misses[0], *archive.hits[0]]:
                    find_near_duplicate(archive.conn, signature)
            for round_ in range(1, repeats + 1):
                log(f"timing, round {round_} of {repeats}")
                for archive in archives:
                    time_pass(archive, misses[round_], round_)
        result: dict[str, Any] = {
            "lookups": lookups, "repeats": repeats,
            "false_candidates_per_million": false_candidates_per_million,
            "sizes": {a.size: figures(a, np.vstack(misses[1:])) for a in archives},
        }
    small, large = result["sizes"][min(sizes)], result["sizes"][max(sizes)]
    result["ratio"] = round(large["lookup_ms"] / small["lookup_ms"], 2)
    result["found_ratio"] = round(large["found_lookup_ms"] / small["found_lookup_ms"], 2)
    return result


def _server_url() -> str:
    if os.environ.get("NEWSMON_DATABASE_URL"):
        return os.environ["NEWSMON_DATABASE_URL"]
    from pipeline.config import load_settings
    from pipeline.store import database_url

    return database_url(load_settings())


class _fresh_database:
    def __init__(self, server_url: str, *, keep: bool) -> None:
        self.server_url, self.keep = server_url, keep
        self.name = f"newsmon_bench_neardup_{uuid.uuid4().hex[:10]}"

    def __enter__(self) -> str:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        params = psycopg.conninfo.conninfo_to_dict(self.server_url)
        params["dbname"] = self.name
        return psycopg.conninfo.make_conninfo(**params)

    def __exit__(self, *exc: object) -> None:
        if self.keep:
            print(f"kept database {self.name}", file=sys.stderr)
            return
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(self.name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000",
                        help="comma-separated stored-signature counts")
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--url", help="PostgreSQL server (default: NEWSMON_DATABASE_URL or "
                                      "the embedded server)")
    parser.add_argument("--keep", action="store_true", help="keep the seeded databases")
    parser.add_argument("--false-candidates-per-million", type=float,
                        default=FALSE_CANDIDATES_PER_MILLION,
                        help="background band-sharing rate to seed (0: the bare structure)")
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    result = measure(sizes, args.lookups, url=args.url, repeats=args.repeats, keep=args.keep,
                     false_candidates_per_million=args.false_candidates_per_million)
    print(f"{'stored':>10} {'lookup ms':>10} {'p90 ms':>8} {'found ms':>9} {'found':>8} "
          f"{'false cand.':>11} {'SELECT 1 ms':>11} {'seed s':>7}")
    for size, f in result["sizes"].items():
        print(f"{size:>10,} {f['lookup_ms']:>10.3f} {f['lookup_p90_ms']:>8.3f} "
              f"{f['found_lookup_ms']:>9.3f} {f['found']:>8} {f['false_candidates_mean']:>11} "
              f"{f['select_1_ms']:>11.3f} {f['seed_s']:>7}")
    print(f"ratio {max(sizes):,}/{min(sizes):,}: {result['ratio']} (not found), "
          f"{result['found_ratio']} (found); target <= 1.5; "
          f"huge pages {result['sizes'][max(sizes)]['huge_pages']}")
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
