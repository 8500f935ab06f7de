"""Extraction CPU per page: newsmon's page stage against bare trafilatura on the same pages.

    python bench/bench_extract.py [--repeat 5]

- baseline: `trafilatura.extract(body, url=url)`, trafilatura's defaults, what a user of
  the library would call.
- measured: `extract.page.extract_article`, the whole page stage the extraction workers
  run: decoding and mojibake repair, the precision pass and its retry where the page
  calls for one, the metadata newsmon keeps, the title and date clean-ups.

Both run in this one process over every page of each corpus in ../shared/corpus/articles
(generated template pages when it is absent), alternating, and CPU time
(`time.process_time`) is counted, so other load on the machine barely moves the ratio.
The median run of each side counts. The figure is the worst corpus's ratio; the page
whose own ratio is highest is reported beside it. Target: <= 1.3 x.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trafilatura

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import median
from bench.internet import CORPUS_DIR, generated_pages
from pipeline.extract.evaluate import corpus_dirs, load_pages
from pipeline.extract.page import ExtractError, extract_article

Job = tuple[str, bytes, str]  # page name, body, URL
TARGET = 1.3


def corpora(directory: Path = CORPUS_DIR, *, per_corpus: int | None = None) -> dict[str, list[Job]]:
    """Each corpus's pages as (body, url); generated pages when the corpus is absent."""
    found: dict[str, list[Job]] = {}
    if (directory / "manifest.json").is_file():
        for sub in corpus_dirs(directory):
            pages = load_pages(sub)[:per_corpus]
            found[sub.name] = [(p.id, p.body, p.url or f"https://{sub.name}.example/{i}")
                               for i, p in enumerate(pages)]
    if not found:
        pages = generated_pages(light=False, seed=7, count=per_corpus or 60)
        found["generated"] = [(f"generated-{i}", p.body, f"https://generated.example/{i}")
                              for i, p in enumerate(pages)]
    return found


def _bare(body: bytes, url: str) -> None:
    trafilatura.extract(body, url=url)


def _ours(body: bytes, url: str) -> None:
    try:
        extract_article(body, url=url)
    except ExtractError:
        pass  # a page with no text costs what it costs, as in the cycle


def _cpu(run: Callable[[bytes, str], None], jobs: list[Job]) -> list[float]:
    """CPU seconds of each page."""
    seconds = []
    for _, body, url in jobs:
        started = time.process_time()
        run(body, url)
        seconds.append(time.process_time() - started)
    return seconds


def measure(jobs: list[Job], *, repeat: int = 3) -> dict[str, Any]:
    """CPU per page of both sides over these pages, median of `repeat` alternating runs."""
    if not jobs:
        raise ValueError("bench: no pages to measure")
    _cpu(_bare, jobs[:3])  # warm up: imports, compiled XPath, caches
    _cpu(_ours, jobs[:3])
    bare_runs, our_runs = [], []
    for _ in range(max(1, repeat)):
        bare_runs.append(_cpu(_bare, jobs))
        our_runs.append(_cpu(_ours, jobs))
    bare_pages = [median(list(column)) for column in zip(*bare_runs, strict=True)]
    our_pages = [median(list(column)) for column in zip(*our_runs, strict=True)]
    bare_s, ours_s = median([sum(r) for r in bare_runs]), median([sum(r) for r in our_runs])
    per_page = [(o / b if b > 0 else 1.0, i) for i, (o, b) in enumerate(
        zip(our_pages, bare_pages, strict=True))]
    worst_ratio, worst_index = max(per_page)
    return {
        "pages": len(jobs),
        "baseline_s": round(bare_s, 4), "measured_s": round(ours_s, 4),
        "baseline_ms_per_page": round(1000 * bare_s / len(jobs), 2),
        "measured_ms_per_page": round(1000 * ours_s / len(jobs), 2),
        "ratio": round(ours_s / bare_s, 3),
        "worst_page": {"page": jobs[worst_index][0], "ratio": round(worst_ratio, 3),
                       "measured_ms": round(1000 * our_pages[worst_index], 2),
                       "baseline_ms": round(1000 * bare_pages[worst_index], 2)},
    }


def measure_corpora(found: dict[str, list[Job]], *, repeat: int = 3) -> dict[str, Any]:
    """Per corpus, and the figure: the worst corpus's ratio."""
    results = {name: measure(jobs, repeat=repeat) for name, jobs in found.items()}
    worst = max(results, key=lambda name: results[name]["ratio"])
    return {
        "ratio": results[worst]["ratio"], "worst_corpus": worst,
        "baseline_s": results[worst]["baseline_s"], "measured_s": results[worst]["measured_s"],
        "corpora": results,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    result = measure_corpora(corpora(), repeat=args.repeat)
    for name, figure in result["corpora"].items():
        worst = figure["worst_page"]
        print(f"{name:18} {figure['pages']:4} pages  bare {figure['baseline_ms_per_page']:6.2f} ms"
              f"  newsmon {figure['measured_ms_per_page']:6.2f} ms  ratio {figure['ratio']:.3f}"
              f"  (highest page {worst['ratio']:.2f}: {worst['page']})")
    print(f"figure: {result['ratio']:.3f} ({result['worst_corpus']}), target <= {TARGET}")
    print(json.dumps({k: v for k, v in result.items() if k != "corpora"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
