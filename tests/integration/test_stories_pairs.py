"""Duplicate detection through the store, on the labelled pairs of tests/data/dup_pairs.jsonl.

Each pair is stored from two outlets into an otherwise empty archive (rolled back after):
the pair is called a duplicate when the second page lands in the first one's story. The
floors are those the phase-1 tuning holds the pure functions to.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from pipeline.dedup.keys import canonical_url
from pipeline.models import Article, Match
from pipeline.store.articles import store_article

PAIRS = Path(__file__).resolve().parents[1] / "data" / "dup_pairs.jsonl"
MATCH = Match(watchlist="venezuela", relevant=True, score=4.0)
MIN_PRECISION, MIN_RECALL = 0.97, 0.95


def _article(side: dict, url: str, lang: str) -> Article:
    return Article(url=url, canonical_url=canonical_url(url), title=side["title"],
                   text=side["text"], lang=lang)


def _verdicts(db_url: str) -> list[tuple[str, bool, bool]]:
    """(lang, labelled duplicate, stored in one story) per pair."""
    verdicts = []
    with psycopg.connect(db_url, autocommit=True) as conn:
        for number, line in enumerate(PAIRS.read_text(encoding="utf-8").splitlines()):
            pair = json.loads(line)
            with conn.transaction(force_rollback=True):
                first = store_article(conn, article=_article(
                    pair["a"], f"https://first-outlet.com/{number}", pair["lang"]),
                    source_id=None, match=MATCH)
                second = store_article(conn, article=_article(
                    pair["b"], f"https://second-outlet.com/{number}", pair["lang"]),
                    source_id=None, match=MATCH)
            verdicts.append((pair["lang"], pair["duplicate"], first.story_id == second.story_id))
    return verdicts


def _precision_recall(verdicts: list[tuple[str, bool, bool]]) -> tuple[float, float]:
    true_pos = sum(1 for _, label, found in verdicts if label and found)
    found = sum(1 for _, _, f in verdicts if f)
    labelled = sum(1 for _, label, _ in verdicts if label)
    return true_pos / found if found else 1.0, true_pos / labelled


def test_labelled_copies_join_one_story_and_distinct_stories_stay_apart(db_url) -> None:
    verdicts = _verdicts(db_url)

    assert len(verdicts) == len(PAIRS.read_text(encoding="utf-8").splitlines())
    for lang in ("en", "es"):
        precision, recall = _precision_recall([v for v in verdicts if v[0] == lang])
        assert precision >= MIN_PRECISION, f"{lang}: precision {precision:.3f}"
        assert recall >= MIN_RECALL, f"{lang}: recall {recall:.3f}"
    precision, recall = _precision_recall(verdicts)
    assert precision >= MIN_PRECISION and recall >= MIN_RECALL, (
        f"precision {precision:.3f}, recall {recall:.3f}")
