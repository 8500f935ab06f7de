"""Near-duplicate detection quality: precision and recall on the labelled pairs.

    python bench/bench_dedup.py          # the shipped parameters, through LSH and threshold
    python bench/bench_dedup.py --grid   # the tuning grid behind them (about a minute)

A pair counts as detected when the two texts share at least one LSH band key (the
database lookup finds it) and ``is_near_duplicate`` accepts it, exactly as the store
will decide. MinHash is randomised, so the grid averages each setting over several
permutation seeds; the shipped seed is one draw from that spread.

The background rate comes from real, unrelated articles in the shared corpus (skipped
when it is absent): the share of unrelated pairs that become LSH candidates, times one
million, is how many false candidates one lookup would fetch from a 1M-article archive.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.dedup import keys as dedup

PAIRS = ROOT / "tests" / "data" / "dup_pairs.jsonl"
CORPUS = ROOT.parent / "shared" / "corpus" / "articles" / "scrapinghub-aeb" / "ground-truth.json"


@dataclass(frozen=True, slots=True)
class Setting:
    shingle_size: int
    num_perm: int
    bands: int
    rows: int


def load_pairs(path: Path = PAIRS) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def load_background(path: Path = CORPUS) -> list[str]:
    if not path.exists():
        return []
    pages = json.loads(path.read_text(encoding="utf-8"))
    return [
        page["articleBody"] for page in pages.values() if len(page["articleBody"].split()) >= 100
    ]


def signatures(texts: list[str], *, shingle_size: int, num_perm: int, seed: int) -> np.ndarray:
    rows = [
        dedup.minhash_signature(t, num_perm=num_perm, shingle_size=shingle_size, seed=seed)
        for t in texts
    ]
    return np.vstack(rows)


def share_band(a: np.ndarray, b: np.ndarray, *, bands: int, rows: int) -> np.ndarray:
    """Row-wise: do a[i] and b[i] agree on every value of some band? (= share a band key)"""
    cut = bands * rows
    same = (a[:, :cut] == b[:, :cut]).reshape(len(a), bands, rows)
    return same.all(axis=2).any(axis=1)


def exact_jaccards(texts: list[str], *, shingle_size: int) -> np.ndarray:
    """Jaccard similarity of the shingle sets of every pair of texts."""
    sets = [dedup.shingles(t, size=shingle_size) for t in texts]
    return np.array([len(a & b) / len(a | b) for a, b in itertools.combinations(sets, 2)])


def candidate_rate(jaccard: np.ndarray, *, bands: int, rows: int) -> float:
    """Expected share of pairs that meet in some band: 1 - (1 - J^rows)^bands, averaged."""
    if not len(jaccard):
        return float("nan")
    return float(np.mean(1 - (1 - jaccard**rows) ** bands))


def scores(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def run_grid(pairs: list[dict], background: list[str], *, seeds: range) -> None:
    texts = sorted({p[side]["text"] for p in pairs for side in "ab"})
    index = {t: i for i, t in enumerate(texts)}
    left = np.array([index[p["a"]["text"]] for p in pairs])
    right = np.array([index[p["b"]["text"]] for p in pairs])
    truth = np.array([p["duplicate"] for p in pairs])
    thresholds = np.round(np.arange(0.15, 0.46, 0.01), 2)
    results = []
    for shingle_size, num_perm in itertools.product((3, 4, 5), (64, 128, 256)):
        per_seed = []
        for seed in seeds:
            per_seed.append(
                signatures(texts, shingle_size=shingle_size, num_perm=num_perm, seed=seed)
            )
        bg_jaccard = exact_jaccards(background, shingle_size=shingle_size)
        for rows in (2, 3, 4, 5):
            for bands in sorted(
                {
                    b
                    for b in (16, 32, num_perm // (2 * rows), num_perm // rows)
                    if b * rows <= num_perm
                }
            ):
                setting = Setting(shingle_size, num_perm, bands, rows)
                f1s = {t: [] for t in thresholds}
                prs = {t: [] for t in thresholds}
                for sig in per_seed:
                    a, b = sig[left], sig[right]
                    candidate = share_band(a, b, bands=bands, rows=rows)
                    estimate = (a == b).mean(axis=1)
                    for t in thresholds:
                        found = candidate & (estimate >= t)
                        tp = int((found & truth).sum())
                        fp = int((found & ~truth).sum())
                        fn = int((~found & truth).sum())
                        p, r, f = scores(tp, fp, fn)
                        f1s[t].append(f)
                        prs[t].append((p, r))
                for t in thresholds:
                    ps, rs = zip(*prs[t], strict=True)
                    results.append(
                        (
                            statistics.mean(f1s[t]),
                            min(f1s[t]),
                            statistics.mean(ps),
                            statistics.mean(rs),
                            setting,
                            float(t),
                            candidate_rate(bg_jaccard, bands=bands, rows=rows),
                        )
                    )
    results.sort(key=lambda r: (-r[0], -r[1], r[4].bands))
    print(f"grid over {len(seeds)} seeds; bg = false LSH candidates per lookup in a 1M archive")
    print(" meanF1  minF1  meanP  meanR  k  perm bands rows thr      bg/1M")
    for f1, f1_min, p, r, s, t, bg in results[:40]:
        print(
            f"  {f1:.3f}  {f1_min:.3f}  {p:.3f}  {r:.3f}  {s.shingle_size}  {s.num_perm:4d}"
            f"  {s.bands:4d}  {s.rows:3d} {t:.2f}  {bg * 1e6:9.1f}"
        )
    print("best per (k, perm, bands x rows):")
    seen = set()
    for f1, f1_min, p, r, s, t, bg in results:
        if s in seen:
            continue
        seen.add(s)
        print(
            f"  {f1:.3f}  {f1_min:.3f}  {p:.3f}  {r:.3f}  {s.shingle_size}  {s.num_perm:4d}"
            f"  {s.bands:4d}  {s.rows:3d} {t:.2f}  {bg * 1e6:9.1f}"
        )


def report_shipped(pairs: list[dict], background: list[str]) -> None:
    """The shipped parameters, through the public API: band keys, then the threshold."""
    cache: dict[str, tuple[np.ndarray, set[int]]] = {}

    def prepared(text: str) -> tuple[np.ndarray, set[int]]:
        if text not in cache:
            sig = dedup.minhash_signature(text)
            cache[text] = (sig, set(dedup.lsh_bands(sig)))
        return cache[text]

    outcome = Counter()
    missed_by = Counter()
    kinds = Counter()
    for pair in pairs:
        (sig_a, keys_a), (sig_b, keys_b) = prepared(pair["a"]["text"]), prepared(pair["b"]["text"])
        candidate = bool(keys_a & keys_b)
        found = candidate and dedup.is_near_duplicate(sig_a, sig_b)
        outcome[(pair["duplicate"], found)] += 1
        kind = pair["kind"].split("~" if pair["duplicate"] else "!")[-1]
        kinds[(pair["duplicate"], kind)] += 1
        if pair["duplicate"] and not found:
            missed_by[("lsh" if not candidate else "threshold", pair["id"])] += 1
        if not pair["duplicate"] and found:
            missed_by[("false-positive", pair["id"])] += 1
    tp, fn = outcome[(True, True)], outcome[(True, False)]
    fp, tn = outcome[(False, True)], outcome[(False, False)]
    precision, recall, f1 = scores(tp, fp, fn)
    print(
        f"shipped: {dedup.SHINGLE_SIZE}-word shingles, {dedup.NUM_PERM} permutations, "
        f"{dedup.LSH_BANDS} bands x {dedup.LSH_ROWS} rows, threshold "
        f"{dedup.NEAR_DUPLICATE_THRESHOLD}"
    )
    print(f"pairs: {len(pairs)} ({tp + fn} duplicate, {fp + tn} not)")
    print(
        f"precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  (tp {tp} fp {fp} fn {fn} tn {tn})"
    )
    for (why, pair_id), _ in sorted(missed_by.items()):
        print(f"  {why}: {pair_id}")
    if background:
        sigs = [prepared(t) for t in background]
        pairs_n = candidates = flagged = 0
        for (sa, ka), (sb, kb) in itertools.combinations(sigs, 2):
            pairs_n += 1
            if ka & kb:
                candidates += 1
                flagged += dedup.is_near_duplicate(sa, sb)
        print(
            f"background: {len(background)} unrelated real articles, {pairs_n} pairs: "
            f"{candidates} LSH candidates ({candidates / pairs_n * 1e6:.0f} per 1M stored), "
            f"{flagged} flagged as duplicates"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="store_true", help="run the tuning grid")
    parser.add_argument("--seeds", type=int, default=10, help="MinHash seeds per grid setting")
    args = parser.parse_args()
    pairs = load_pairs()
    background = load_background()
    if args.grid:
        run_grid(pairs, background, seeds=range(1, args.seeds + 1))
    else:
        report_shipped(pairs, background)


if __name__ == "__main__":
    main()
