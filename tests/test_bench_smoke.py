"""The benchmark harness runs end to end at smoke size (no timing thresholds: figures are
judged by `python -m bench` on the machine, not by the test suite)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_smoke_bench_reports_every_figure_with_a_ratio(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))

    for name in ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9"):
        figure = report[name]
        assert "error" not in figure, f"{name}: {figure.get('error')}"
        assert isinstance(figure["ratio"], int | float) and math.isfinite(figure["ratio"])
        assert figure["ratio"] > 0
        assert isinstance(figure["met"], bool) and figure["target"]
    assert report["P1"]["measured_runs"][0]["summary"]["new_articles"] > 0
    assert all(corpus["pages"] > 0 for corpus in report["P9"]["corpora"].values())
    # the archive store really held the seeded articles, and every cycle stored new ones
    archive = report["P7"]["archive"]
    assert archive["stored_articles"] == archive["articles"] >= 1_000
    assert archive["band_rows"] == 32 * archive["articles"] and archive["events"] > 0
    assert min(report["P7"]["new_articles"]) > 0
    assert report["P2"]["article_fetches"] == 0  # unchanged feeds lead to no page fetch
    latency = report["P8"]
    assert latency["missing"] == [] and latency["emails_unmatched"] == 0  # every alert came
    for figures in (latency, latency["measured"], latency["classes"]["regular"]):
        assert math.isfinite(figures["p95_s"]) and 0 < figures["p50_s"] <= figures["p95_s"]
        assert figures["p95_s"] <= figures["max_s"] and math.isfinite(figures["bound_s"])
    # A busy feed (5 min interval) is polled by every ingest run: the period is the DAG's.
    shipped = latency["schedule"]["shipped"]
    assert latency["bound_terms"]["poll_period_s"] == shipped["ingest_every_s"]
    assert latency["bound_s"] > shipped["ingest_every_s"]
    assert report["machine"]["cores"] >= 1 and report["versions"]["trafilatura"]
    assert "P1" in done.stdout and "ratio" in done.stdout  # the terminal table


def test_a_source_is_polled_by_the_first_run_after_its_interval_has_passed() -> None:
    from bench.bench_latency import poll_period

    assert poll_period(900, 300) == 900  # due again before the next run
    assert poll_period(900, 1200) == 1800
    # Due again a moment after the next run planned its shards: it waits a run more.
    assert poll_period(900, 900) == 1800


def test_waits_on_timers_stretch_to_the_shipped_schedules_and_work_stays() -> None:
    from bench.bench_latency import shipped_latency

    starts = [0.0, 60.0, 120.0]  # ingest runs; the feed is polled 3 s into each

    def latency(published: float, before: float) -> float:
        # Seen at 123, queued 5 s later, sent by the alerts run the tick at 150 asked
        # for (20 s batch window, then the tick), in the inbox 2 s after that tick.
        return shipped_latency(published, before=before, seen=123.0, queued=128.0,
                               asked=150.0, inbox=152.0, starts=starts, nominal_gap=60,
                               period=900, scale=1 / 15)

    # Out 15 s after the poll at 63: a quarter of the way through an interval that the
    # shipped schedules make 900 s (+ 3 - 3); 22 s of timers become 330 s.
    assert latency(78.0, before=63.0) == 0.75 * 900 + 5 + 22 * 15 + 2
    # The feed left out of the run at 60: two periods in that interval.
    assert latency(78.0, before=3.0) == 45 / 120 * 1800 + 5 + 22 * 15 + 2
    # Already out at the poll at 63 that should have shown it: beyond a whole period.
    assert latency(50.0, before=63.0) > 900 + 5 + 22 * 15 + 2
