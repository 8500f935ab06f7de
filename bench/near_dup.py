"""P3: the near-duplicate lookup's cost at a small and a large archive.

The band table is seeded synthetically (no 1M real texts exist): every stored article
gets 32 random band keys, except that, at the rate measured on real unrelated articles
(about 144 per lookup per 1M stored, docs/decisions.md "Dedup"), stored articles share
one band with a query, as boilerplate-sharing articles do; each query also has one true
near-duplicate. So a lookup at 1M fetches about 100 times the false candidates it
fetches at 10k, exactly the growth a real archive would show. Seeded rows carry no text,
and a signature only where a lookup reads one.

The lookup timed is the store's own (`pipeline.stories.find_near_duplicate`).
"""

from __future__ import annotations

import statistics
import struct
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg

from pipeline.dedup import NUM_PERM, lsh_bands

FALSE_CANDIDATES_PER_MILLION = 144  # docs/decisions.md, "Dedup"
TRUE_COPY_KEPT = 0.8  # share of signature values a true copy keeps (similarity ~0.8)
CHUNK = 50_000  # articles seeded per COPY batch
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_BINARY_TRAILER = struct.pack("!h", -1)
_BAND_ROW = np.dtype([("fields", ">i2"), ("len1", ">i4"), ("band", ">i8"),
                      ("len2", ">i4"), ("article", ">i8")])


def measure(db_url: str, *, small: int, large: int, queries: int, reps: int,
            log: Callable[[str], None]) -> dict[str, Any]:
    """Seconds per lookup at `small` and at `large` stored signatures (median of `reps`)."""
    rng = np.random.default_rng(7)
    signatures = rng.integers(0, 2**32 - 1, size=(queries, NUM_PERM), dtype=np.uint64)
    keys = np.array([lsh_bands(s) for s in signatures], dtype=np.int64)
    out: dict[str, Any] = {"queries": queries}
    with psycopg.connect(db_url, autocommit=True) as conn:
        stored = 0
        for label, size in (("small", small), ("large", large)):
            log(f"P3: seeding {size:,} signatures")
            started = time.perf_counter()
            seed(conn, first=stored + 1, last=size, signatures=signatures, keys=keys, rng=rng,
                 with_true_copies=stored == 0)
            stored = size
            out[f"{label}_seed_s"] = round(time.perf_counter() - started, 1)
            seconds, found = time_lookups(conn, signatures, reps=reps)
            out[f"{label}_s"] = seconds
            out[f"{label}_found"] = found
            out[f"{label}_candidates_per_lookup"] = candidates_per_lookup(conn, keys)
            out[f"{label}_band_rows"] = conn.execute(
                "SELECT count(*) FROM article_bands").fetchone()[0]
    return out


def time_lookups(conn: psycopg.Connection, signatures: np.ndarray, *,
                 reps: int) -> tuple[float, int]:
    from pipeline.stories import find_near_duplicate

    found = sum(find_near_duplicate(conn, s) is not None for s in signatures)  # warm caches
    passes = []
    for _ in range(reps):
        started = time.perf_counter()
        for signature in signatures:
            find_near_duplicate(conn, signature)
        passes.append((time.perf_counter() - started) / len(signatures))
    return round(statistics.median(passes), 6), found


def candidates_per_lookup(conn: psycopg.Connection, keys: np.ndarray) -> float:
    counts = [conn.execute(
        "SELECT count(DISTINCT article_id) FROM article_bands WHERE band_key = ANY(%s)",
        (row.tolist(),)).fetchone()[0] for row in keys]
    return round(statistics.mean(counts), 2)


def seed(conn: psycopg.Connection, *, first: int, last: int, signatures: np.ndarray,
         keys: np.ndarray, rng: np.random.Generator, with_true_copies: bool) -> None:
    """Store articles `first`..`last` (ids) with band keys; indexes rebuilt once at the end."""
    restore = _drop_indexes(conn)
    try:
        for start in range(first, last + 1, CHUNK):
            end = min(start + CHUNK - 1, last)
            bands, minhashes = _chunk(start, end, signatures, keys, rng)
            if with_true_copies and start == first:
                _plant_true_copies(start, end, signatures, bands, minhashes, rng)
            _copy_articles(conn, start, end, minhashes)
            _copy_bands(conn, start, bands)
    finally:
        for statement in restore:
            conn.execute(statement)
    conn.execute("ANALYZE articles")
    conn.execute("ANALYZE article_bands")


def _chunk(start: int, end: int, signatures: np.ndarray, keys: np.ndarray,
           rng: np.random.Generator) -> tuple[np.ndarray, dict[int, bytes]]:
    count = end - start + 1
    bands = rng.integers(-(2**63), 2**63 - 1, size=(count, keys.shape[1]), dtype=np.int64)
    minhashes: dict[int, bytes] = {}
    rate = FALSE_CANDIDATES_PER_MILLION / 1_000_000
    for query in range(len(signatures)):
        for offset in rng.choice(count, size=rng.poisson(rate * count), replace=False):
            band = rng.integers(keys.shape[1])
            bands[offset, band] = keys[query, band]
            minhashes[start + int(offset)] = _random_signature(rng)
    return bands, minhashes


def _plant_true_copies(start: int, end: int, signatures: np.ndarray, bands: np.ndarray,
                       minhashes: dict[int, bytes], rng: np.random.Generator) -> None:
    offsets = rng.choice(end - start + 1, size=len(signatures), replace=False)
    for signature, offset in zip(signatures, offsets, strict=True):
        copy = signature.copy()
        changed = rng.random(len(copy)) > TRUE_COPY_KEPT
        copy[changed] = rng.integers(0, 2**32 - 1, size=int(changed.sum()), dtype=np.uint64)
        copy_bands = lsh_bands(copy)
        bands[offset, : len(copy_bands)] = copy_bands
        minhashes[start + int(offset)] = copy.astype("<u4").tobytes()


def _random_signature(rng: np.random.Generator) -> bytes:
    return rng.integers(0, 2**32 - 1, size=NUM_PERM, dtype=np.uint64).astype("<u4").tobytes()


def _copy_articles(conn: psycopg.Connection, start: int, end: int,
                   minhashes: dict[int, bytes]) -> None:
    with conn.cursor().copy(
        "COPY articles (id, url, canonical_url, content_hash, minhash) FROM STDIN"
    ) as copy:
        for article_id in range(start, end + 1):
            url = f"http://seed.invalid/{article_id}"
            copy.write_row((article_id, url, url, f"{article_id:032x}",
                            minhashes.get(article_id)))


def _copy_bands(conn: psycopg.Connection, start: int, bands: np.ndarray) -> None:
    rows = np.empty(bands.size, dtype=_BAND_ROW)
    rows["fields"], rows["len1"], rows["len2"] = 2, 8, 8
    rows["band"] = bands.ravel()
    rows["article"] = np.repeat(np.arange(start, start + len(bands)), bands.shape[1])
    with conn.cursor().copy("COPY article_bands (band_key, article_id) FROM STDIN BINARY") as copy:
        copy.write(_BINARY_HEADER + rows.tobytes() + _BINARY_TRAILER)


def _drop_indexes(conn: psycopg.Connection) -> list[str]:
    """Drop what bulk loading would maintain row by row; return the statements that
    restore it (the foreign key comes back NOT VALID: the seeded rows are consistent)."""
    restore = []
    constraints = conn.execute(
        """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype
           FROM pg_constraint
           WHERE conrelid = 'article_bands'::regclass AND contype IN ('p', 'f')
              OR conrelid = 'articles'::regclass AND contype = 'u'"""
    ).fetchall()
    for table, name, definition, kind in constraints:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        suffix = " NOT VALID" if kind == "f" else ""
        restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}{suffix}')
    indexes = conn.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
           FROM pg_index i
           WHERE i.indrelid IN ('articles'::regclass, 'article_bands'::regclass)
             AND NOT i.indisprimary AND NOT i.indisunique"""
    ).fetchall()
    for name, definition in indexes:
        conn.execute(f"DROP INDEX {name}")
        restore.append(definition)
    # Unique/primary constraints first: the foreign key needs its target's index.
    return sorted(restore, key=lambda s: "FOREIGN KEY" in s)
