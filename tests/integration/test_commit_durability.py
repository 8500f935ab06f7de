"""Only the cycle's connection commits without waiting for the WAL flush
(docs/reliability.md, "Commits the cycle does not wait for")."""

from __future__ import annotations

from pipeline.alerts.outbox import open_connection
from pipeline.store import connect, connect_for_ingest


def test_only_the_cycles_connection_skips_the_wal_flush(db_url) -> None:
    with connect_for_ingest(db_url) as cycle:
        assert cycle.execute("SHOW synchronous_commit").fetchone() == ("off",)
    # Sending (alerts, digests) and everything else: a commit is on disk when it returns,
    # and flushes the cycle's earlier commits with it.
    with open_connection(db_url) as sender, connect(db_url) as other:
        assert sender.execute("SHOW synchronous_commit").fetchone() == ("on",)
        assert other.execute("SHOW synchronous_commit").fetchone() == ("on",)
