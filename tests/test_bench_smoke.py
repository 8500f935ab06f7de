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

    for name in ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P9"):
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
    assert report["machine"]["cores"] >= 1 and report["versions"]["trafilatura"]
    assert "P1" in done.stdout and "ratio" in done.stdout  # the terminal table
