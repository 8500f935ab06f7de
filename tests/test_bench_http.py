"""bench/bench_http.py runs end to end at a tiny size (no timing threshold: the figure is
judged on the machine, not by the test suite)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_http_bench_reports_cpu_per_request_for_both_sides() -> None:
    done = subprocess.run(
        [sys.executable, "bench/bench_http.py", "--requests", "60", "--repeat", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    # Each run also checks that every request was answered 304, on both sides.
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["requests"] == 60
    for key in ("baseline_cpu_us", "measured_cpu_us", "ratio"):
        assert math.isfinite(result[key]) and result[key] > 0
