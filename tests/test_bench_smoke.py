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

    for name in ("P1", "P2", "P3", "P4", "P5", "P6", "P8", "P9"):
        figure = report[name]
        assert "error" not in figure, f"{name}: {figure.get('error')}"
        assert isinstance(figure["ratio"], int | float) and math.isfinite(figure["ratio"])
        assert figure["ratio"] > 0
        assert isinstance(figure["met"], bool) and figure["target"]
    assert report["P1"]["measured_runs"][0]["summary"]["new_articles"] > 0
    assert all(corpus["pages"] > 0 for corpus in report["P9"]["corpora"].values())
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


def test_only_the_idle_time_before_the_polling_run_stretches_to_the_shipped_period() -> None:
    from bench.bench_latency import shipped_latency

    starts = [0.0, 60.0, 120.0]
    # Published 15 s into a 60 s gap, polled by the run at 120 that mailed it 20 s later.
    assert shipped_latency(75.0, seen=123.0, inbox=140.0, starts=starts, nominal_gap=60,
                           period=900) == 45 / 60 * 900 + 20
    # Published inside the run before its poll: nothing to stretch.
    assert shipped_latency(121.0, seen=123.0, inbox=140.0, starts=starts, nominal_gap=60,
                           period=900) == 19
    # Missed the run at 60: the phase passes 1 and the latency passes the period.
    assert shipped_latency(30.0, seen=123.0, inbox=140.0, starts=starts, nominal_gap=60,
                           period=900) > 900 + 20
