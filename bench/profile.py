"""Profile one P1-sized cycle with py-spy, across the main process and its workers.

py-spy samples every process of the cycle's tree (the extraction workers are
grandchildren); the raw stacks go to bench/results/profile-p1.txt (feed them to
flamegraph.pl or speedscope) and the summary groups samples by stage, per process role.
py-spy is not a dependency of newsmon: `uv pip install --python .venv/bin/python py-spy`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench.figures import Context
from bench.internet import Internet

# First pattern found anywhere in a stack names its stage (order matters: most specific first).
# Samples are taken with --gil, so they are CPU spent in Python code; C code that releases
# the GIL (parts of lxml, numpy) is undercounted. P1 reports CPU seconds per process.
STAGES = (
    ("bare_extraction", "trafilatura"),
    ("load_html", "trafilatura (parse)"),
    ("page_language", "extract: page language"),
    ("repair_mojibake", "extract: mojibake repair"),
    ("page_canonical_url", "extract: canonical link"),
    ("decode_html", "extract: decode"),
    ("match_article", "match"),
    ("shingles_signature", "dedup: minhash"),
    ("text_keys", "dedup: normalise, shingles, bands"),
    ("text_fingerprint", "dedup: fingerprint"),
    ("extract_article", "extract: other"),
    ("_worker_main", "worker: pipe I/O, idle"),
    ("store_article", "db: store article"),
    ("_store_with_item", "db: store article"),
    ("record_poll", "db: poll bookkeeping"),
    ("record_item", "db: item bookkeeping"),
    ("_Cycle.db", "db: other"),
    ("parse_feed", "feed parsing"),
    ("canonical_url", "canonical url"),
    ("detect_language", "language detection"),
    ("ExtractPool.extract", "pool: pipe I/O"),
    ("_receive", "pool: pipe I/O"),
    ("ExtractPool.start", "pool: start"),
    ("HttpClient", "http"),
    ("load_watchlist", "watchlist compile"),
    ("_worker (concurrent", "db thread: idle/other"),
    ("run_cycle", "cycle: event loop/other"),
    ("<module>", "imports"),
)


def profile_cycle(ctx: Context, results: Path) -> dict[str, Any]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return {"error": "py-spy is not installed (uv pip install --python .venv/bin/python py-spy)"}
    plan = ctx.plan(ctx.sizes.p1)
    raw = results / "profile-p1.txt"
    results.mkdir(parents=True, exist_ok=True)
    with Internet(plan) as net:
        db_url = ctx.dbs.fresh("profile")
        task = {"mode": "cycle", "db_url": db_url, "workers": ctx.workers,
                "sources": [[s.name, s.url] for s in net.sources()]}
        ctx.log(f"profile: cycle over {plan.feeds} feeds under py-spy")
        done = subprocess.run(
            # --gil: only samples holding the GIL, i.e. Python code on a CPU (not a thread
            # waiting for PostgreSQL or the network).
            [py_spy, "record", "--rate", "50", "--format", "raw", "--subprocesses", "--gil",
             "--nonblocking", "--output", str(raw), "--", sys.executable, "-m", "bench.child"],
            input=json.dumps(task), text=True, capture_output=True,
            cwd=Path(__file__).resolve().parents[1], check=False,
        )
        ctx.dbs.drop(db_url)
    if done.returncode != 0 or not raw.exists():
        return {"error": f"py-spy failed: {done.stderr[-500:]}"}
    summary = summarise(raw.read_text(encoding="utf-8"))
    (results / "profile-p1-summary.txt").write_text(format_summary(summary), encoding="utf-8")
    print(format_summary(summary))
    return {"raw": str(raw), **summary}


def summarise(raw: str) -> dict[str, Any]:
    """Samples per (process role, stage). Roles: main (the cycle's process), workers."""
    stages: Counter[tuple[str, str]] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        processes = [i for i, frame in enumerate(frames) if frame.startswith("process ")]
        if not processes:
            continue
        role = "main" if len(processes) == 1 else "workers"
        body = ";".join(frames[processes[-1] + 1:])
        stage = next((name for pattern, name in STAGES if pattern in body), "other")
        stages[(role, stage)] += int(count)
    totals = Counter()
    for (role, _), n in stages.items():
        totals[role] += n
    return {
        "samples": dict(totals),
        "by_stage": [{"role": role, "stage": stage, "samples": n,
                      "share_of_role": round(n / totals[role], 3)}
                     for (role, stage), n in stages.most_common()],
    }


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"py-spy samples per process role: {summary['samples']}"]
    for row in summary["by_stage"]:
        if row["share_of_role"] >= 0.005:
            lines.append(f"  {row['role']:8} {row['stage']:28} {row['samples']:7} "
                         f"{row['share_of_role']:6.1%}")
    return "\n".join(lines)
