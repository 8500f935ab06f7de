"""`python -m bench`: run the eight figures, print a table, write bench/results/latest.json.

    python -m bench                 # full sizes (about 20-25 minutes on 2 cores)
    python -m bench --smoke         # tiny sizes, seconds: proves the harness works
    python -m bench --only P1,P4    # some figures
    python -m bench --profile       # also profile one P1-sized cycle (needs py-spy)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.figures import FIGURES, FULL, SMOKE, Context, machine, versions
from bench.harness import Databases

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    if args.reps:
        sizes = replace(sizes, reps=args.reps, p1_reps=args.reps)
    if args.p6_pages:
        sizes = replace(sizes, p6_small=replace(sizes.p6_small, pages=args.p6_pages),
                        p6_large=replace(sizes.p6_large, pages=args.p6_pages))
    wanted = [name.strip().upper() for name in args.only.split(",")] if args.only else list(FIGURES)
    unknown = set(wanted) - set(FIGURES)
    if unknown:
        print(f"bench: unknown figure(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    started = time.time()

    def log(message: str) -> None:
        print(f"[{time.time() - started:7.1f}s] {message}", file=sys.stderr, flush=True)

    report: dict[str, Any] = {"mode": "smoke" if args.smoke else "full",
                              "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                              "machine": machine()}
    with Databases() as dbs:
        report["versions"] = versions(dbs)
        ctx = Context(dbs=dbs, sizes=sizes, workers=args.workers or os.cpu_count() or 1, log=log)
        for name in wanted:
            log(f"{name} ...")
            try:
                report[name] = FIGURES[name](ctx)
            except Exception as exc:  # noqa: BLE001 - one broken figure must not hide the rest
                traceback.print_exc()
                report[name] = {"error": f"{type(exc).__name__}: {exc}", "ratio": None,
                                "met": False}
        if args.profile:
            from bench.profile import profile_cycle

            report["profile"] = profile_cycle(ctx, RESULTS)
    report["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report["duration_s"] = round(time.time() - started, 1)
    out = Path(args.out) if args.out else RESULTS / "latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(table(report, wanted))
    print(f"\nwritten to {out} in {report['duration_s']:.0f} s")
    return 0


def table(report: dict[str, Any], names: list[str]) -> str:
    m = report["machine"]
    lines = [(f"newsmon bench ({report['mode']}), {m['cores']} cores, load "
             f"{m['load_average'][0]:.1f} -> {m['load_average_end'][0]:.1f}"), ""]
    header = f"{'':3} {'figure':62} {'baseline':>10} {'measured':>10} {'ratio':>7}  {'target':<14} met"
    lines += [header, "-" * len(header)]
    for name in names:
        figure = report[name]
        if "error" in figure:
            lines.append(f"{name:3} ERROR {figure['error'][:90]}")
            continue
        base, measured = _absolute(figure)
        lines.append(f"{name:3} {figure['what'][:62]:62} {base:>10} {measured:>10} "
                     f"{figure['ratio']:>7.3f}  {figure['target']:<14} "
                     f"{'yes' if figure['met'] else 'NO'}")
    return "\n".join(lines)


def _absolute(figure: dict[str, Any]) -> tuple[str, str]:
    if "baseline_mb" in figure:
        return f"{figure['baseline_mb']:.0f} MB", f"{figure['measured_mb']:.0f} MB"
    if "baseline_rows_per_s" in figure:
        return f"{figure['baseline_rows_per_s']:.0f} r/s", f"{figure['measured_rows_per_s']:.0f} r/s"
    if "baseline_chars_per_s" in figure:
        return (f"{figure['baseline_chars_per_s'] / 1e6:.1f} MB/s",
                f"{figure['measured_chars_per_s'] / 1e6:.1f} MB/s")
    return _seconds(figure["baseline_s"]), _seconds(figure["measured_s"])


def _seconds(value: float) -> str:
    return f"{value * 1000:.2f} ms" if value < 0.1 else f"{value:.2f} s"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition")
    parser.add_argument("--only", help="comma-separated figures, e.g. P1,P4")
    parser.add_argument("--reps", type=int, help="repetitions per figure (median kept)")
    parser.add_argument("--workers", type=int, help="extraction processes (default: cores)")
    parser.add_argument("--p6-pages", choices=("light", "corpus"),
                        help="pages of the P6 cycles (full default: light, about 10 KB)")
    parser.add_argument("--profile", action="store_true",
                        help="profile one P1-sized cycle with py-spy (all processes)")
    parser.add_argument("--out", help="JSON path (default bench/results/latest.json)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
