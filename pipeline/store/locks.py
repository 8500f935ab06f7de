"""Transaction-scoped advisory locks on hashed keys: how concurrent writers of articles and
events find each other's rows instead of writing twins (pipeline/store/articles.py,
pipeline/store/events.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import psycopg


def lock_key(kind: str, value: str) -> int:
    """A 64-bit lock key for a value of a kind ("url", "text", "event:p:guiria"...)."""
    digest = hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def lock(conn: psycopg.Connection, keys: Iterable[int]) -> None:
    """Take the locks, in sorted order (two writers never wait on each other in a circle),
    until the transaction ends."""
    # The two-int form splits a 64-bit key over (classid, objid): its own lock space, apart
    # from the single-bigint locks of migrations and the cycle.
    ordered = sorted(set(keys))
    conn.execute(
        """SELECT count(pg_advisory_xact_lock(hi, lo))
           FROM (SELECT hi, lo FROM unnest(%s::int4[], %s::int4[]) AS k(hi, lo)
                 ORDER BY hi, lo) AS ordered""",
        ([k >> 32 for k in ordered], [_as_int4(k & 0xFFFFFFFF) for k in ordered]),
    )


def _as_int4(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value
