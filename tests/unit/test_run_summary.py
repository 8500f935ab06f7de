"""The run summary's error list, shared by the CLI's report and the shard task's log."""

from __future__ import annotations

from pipeline.ingest.cycle import RunSummary


def test_a_few_errors_are_all_shown() -> None:
    assert RunSummary(errors=["a: fetch: timed out"]).error_lines() == ["a: fetch: timed out"]
    assert RunSummary().error_lines() == []


def test_many_errors_show_the_first_then_how_many_more() -> None:
    summary = RunSummary(errors=[f"feed {n}: fetch: HTTP 503" for n in range(25)])
    lines = summary.error_lines()
    assert lines[:20] == summary.errors[:20]
    assert lines[20:] == ["... and 5 more errors (see fetch_log, feed_items)"]
    assert len(summary.errors) == 25  # the summary's own list is left alone
    assert summary.error_lines(limit=24)[-1].startswith("... and 1 more errors")
