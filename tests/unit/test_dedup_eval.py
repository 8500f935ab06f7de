"""Near-duplicate detection measured on the labelled pairs, as the store will run it.

A pair is detected when the two texts share an LSH band key (the database lookup) and
``is_near_duplicate`` accepts the candidate. The floors sit below the figures recorded in
docs/decisions.md ("Dedup") so that adding harder pairs does not break the build, but a
parameter change that loses real copies or merges distinct stories does.
"""

from __future__ import annotations

import itertools
import json
import runpy
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from pipeline.dedup.keys import is_near_duplicate, lsh_bands, minhash_signature

DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS_TRUTH = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "corpus"
    / "articles"
    / "scrapinghub-aeb"
    / "ground-truth.json"
)

MIN_PRECISION = 0.97
MIN_RECALL = 0.95


def load_pairs() -> list[dict]:
    with (DATA / "dup_pairs.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@cache
def prepared(text: str) -> tuple[np.ndarray, frozenset[int]]:
    signature = minhash_signature(text)
    return signature, frozenset(lsh_bands(signature))


def shares_band(a: str, b: str) -> bool:
    return bool(prepared(a)[1] & prepared(b)[1])


def detected(a: str, b: str) -> bool:
    return shares_band(a, b) and is_near_duplicate(prepared(a)[0], prepared(b)[0])


PAIRS = load_pairs()


def test_labelled_set_is_big_and_balanced_enough_to_mean_something() -> None:
    assert len(PAIRS) >= 80
    for lang in ("en", "es"):
        labels = [p["duplicate"] for p in PAIRS if p["lang"] == lang]
        assert sum(labels) >= 20 and len(labels) - sum(labels) >= 20, lang
    words = [len(p[side]["text"].split()) for p in PAIRS for side in "ab"]
    assert min(words) >= 150 and max(words) <= 500


def test_labelled_set_is_what_the_generator_writes() -> None:
    generator = runpy.run_path(str(DATA / "make_dup_pairs.py"), run_name="make_dup_pairs")
    assert generator["pairs"]() == PAIRS


@pytest.mark.parametrize("lang", ["en", "es", None])
def test_precision_and_recall_through_lsh_and_threshold(lang: str | None) -> None:
    pairs = [p for p in PAIRS if lang is None or p["lang"] == lang]
    found = [detected(p["a"]["text"], p["b"]["text"]) for p in pairs]
    truth = [p["duplicate"] for p in pairs]
    tp = sum(f and t for f, t in zip(found, truth, strict=True))
    fp = sum(f and not t for f, t in zip(found, truth, strict=True))
    fn = sum(t and not f for f, t in zip(found, truth, strict=True))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    missed = [p["id"] for p, f in zip(pairs, found, strict=True) if f != p["duplicate"]]
    assert precision >= MIN_PRECISION, missed
    assert recall >= MIN_RECALL, missed


def test_syndicated_copies_share_a_band_with_the_wire() -> None:
    copies = [p for p in PAIRS if p["relation"] == "copy" and p["kind"].startswith("wire~")]
    sharing = [shares_band(p["a"]["text"], p["b"]["text"]) for p in copies]
    assert len(copies) >= 60
    assert sum(sharing) / len(sharing) >= 0.97


def test_stories_about_other_events_share_no_band() -> None:
    unrelated = [p for p in PAIRS if p["relation"] == "other-event"]
    assert len(unrelated) >= 10
    assert not any(shares_band(p["a"]["text"], p["b"]["text"]) for p in unrelated)


def test_same_event_stories_stay_apart() -> None:
    # the hard negatives: other outlets' own reporting and next-day follow-ups
    same_event = [p for p in PAIRS if p["relation"] == "same-event"]
    assert len(same_event) >= 40
    assert not [p["id"] for p in same_event if detected(p["a"]["text"], p["b"]["text"])]


@pytest.mark.skipif(not CORPUS_TRUTH.exists(), reason="shared corpus not available")
def test_unrelated_real_articles_are_not_duplicates() -> None:
    pages = json.loads(CORPUS_TRUTH.read_text(encoding="utf-8"))
    texts = [p["articleBody"] for p in pages.values() if len(p["articleBody"].split()) >= 100]
    pairs = list(itertools.combinations(texts, 2))
    assert len(pairs) > 10_000
    candidates = [pair for pair in pairs if shares_band(*pair)]
    # a few real pairs are about the same event (two outlets on one earnings report): they
    # may meet in a band, but none may pass the threshold
    assert len(candidates) / len(pairs) < 0.001
    assert not [pair for pair in candidates if detected(*pair)]
