"""Matcher throughput against a bare single-pass scan of the same texts.

    python bench/bench_matcher.py [--repeat 5]

Texts are the real articles of the shared corpus (`expected_text` in
../shared/corpus/articles/manifest.json); without the corpus the script says so and stops.

- baseline: one `re.finditer(r"\\w+", ...)` pass over title and text, consuming every
  match: the least any tokenising filter must do.
- matcher: `match_article` on the default watchlist with the language already known, as
  the ingestion cycle calls it (it detects and stores the language at extraction).
- matcher with detection: the same with `lang=None`, so py3langid runs on every article.

Runs are interleaved and the best of each kind is kept, so load from other processes on
a shared machine hits all of them alike. Target: matcher >= 0.5 x baseline.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.match import detect_language, load_watchlist, match_article

MANIFEST = ROOT.parent / "shared" / "corpus" / "articles" / "manifest.json"
_WORD = re.compile(r"\w+")

Item = tuple[str, str, str | None]  # title, text, language


def measure(texts: Sequence[str | Item], repeat: int = 3) -> dict[str, float | int]:
    """MB/s of the matcher and of the baseline over `texts` (strings, or (title, text, lang))."""
    items = [_as_item(t) for t in texts]
    if not items:
        raise ValueError("bench: no texts to measure")
    wl = load_watchlist("venezuela")
    known = [(title, text, lang or detect_language(f"{title}\n{text}")) for title, text, lang in items]
    unknown = [(title, text, None) for title, text, _ in items]

    def baseline() -> None:
        for title, text, _ in items:
            for _ in _WORD.finditer(title):
                pass
            for _ in _WORD.finditer(text):
                pass

    def matcher(batch: list[Item]) -> Callable[[], None]:
        def run() -> None:
            for title, text, lang in batch:
                match_article(wl, title=title, text=text, lang=lang)
        return run

    runs = {"baseline": baseline, "matcher": matcher(known), "matcher_detect": matcher(unknown)}
    for run in runs.values():  # warm up: compiled watchlist, language model, caches
        run()
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(max(1, repeat)):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    megabytes = sum(len(t.encode()) + len(x.encode()) for t, x, _ in items) / 1e6
    chars = sum(len(t) + len(x) for t, x, _ in items)
    mb_s = {name: megabytes / seconds for name, seconds in best.items()}
    return {
        "texts": len(items),
        "megabytes": round(megabytes, 3),
        "baseline_mb_s": round(mb_s["baseline"], 2),
        "matcher_mb_s": round(mb_s["matcher"], 2),
        "matcher_with_detection_mb_s": round(mb_s["matcher_detect"], 2),
        "ratio": round(mb_s["matcher"] / mb_s["baseline"], 3),
        "ratio_with_detection": round(mb_s["matcher_detect"] / mb_s["baseline"], 3),
        "baseline_chars_per_s": round(chars / best["baseline"]),
        "measured_chars_per_s": round(chars / best["matcher"]),
    }


def _as_item(value: str | Item) -> Item:
    if isinstance(value, str):
        return "", value, None
    title, text, lang = value
    return title or "", text or "", lang


def corpus_texts(path: Path = MANIFEST) -> list[Item]:
    if not path.exists():
        return []
    items = json.loads(path.read_text(encoding="utf-8"))["items"]
    return [(item.get("html_title") or "", item["expected_text"], None)
            for item in items if item.get("expected_text")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    texts = corpus_texts()
    if not texts:
        print(f"bench: corpus not found at {MANIFEST}; nothing to measure")
        return 0
    result = measure(texts, repeat=args.repeat)
    print(f"{result['texts']} articles, {result['megabytes']} MB")
    print(f"baseline (one \\w+ pass)        {result['baseline_mb_s']:8.2f} MB/s")
    print(f"matcher, language known        {result['matcher_mb_s']:8.2f} MB/s"
          f"   ratio {result['ratio']:.2f} (target >= 0.5)")
    print(f"matcher, language detected     {result['matcher_with_detection_mb_s']:8.2f} MB/s"
          f"   ratio {result['ratio_with_detection']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
