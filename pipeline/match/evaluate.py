"""Score a watchlist against labelled articles: precision, recall, F1, and the misses.

Input is JSONL, one article per line:
    {"id": "...", "title": "...", "text": "...", "lang": "es", "label": "relevant"}
A line that cannot be read is reported and skipped; it never stops the evaluation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.match.matcher import match_article
from pipeline.match.watchlist import Watchlist, load_watchlist

LABELS = {"relevant": True, "irrelevant": False}


class BadLine(ValueError):
    """A line of the labelled file that cannot be used."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Miss:
    id: str
    gold: bool
    score: float
    lang: str | None
    evidence: tuple[str, ...]  # "entity:tren_de_aragua 'TdA'", strongest first


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalReport:
    watchlist: str
    threshold: float
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    misses: tuple[Miss, ...]
    errors: tuple[str, ...]
    by_lang: dict[str, tuple[int, int]]  # lang -> (correct, total)

    @property
    def total(self) -> int:
        return (self.true_positives + self.false_positives + self.false_negatives
                + self.true_negatives)

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_positive_ids(self) -> list[str]:
        return [m.id for m in self.misses if not m.gold]

    @property
    def false_negative_ids(self) -> list[str]:
        return [m.id for m in self.misses if m.gold]

    def format(self) -> str:
        lines = [
            f"watchlist {self.watchlist} (threshold {self.threshold:g}): {self.total} articles",
            f"precision {self.precision:.3f}  recall {self.recall:.3f}  F1 {self.f1:.3f}",
            (f"true positives {self.true_positives}  false positives {self.false_positives}  "
             f"false negatives {self.false_negatives}  true negatives {self.true_negatives}"),
        ]
        if self.by_lang:
            lines.append("accuracy by language: " + "  ".join(
                f"{lang} {ok}/{n}" for lang, (ok, n) in sorted(self.by_lang.items())))
        for title, gold in (("false positives", False), ("false negatives", True)):
            misses = [m for m in self.misses if m.gold == gold]
            if misses:
                lines.append(f"{title}:")
                lines.extend(f"  {m.id}  score {m.score:.2f}  {'; '.join(m.evidence[:3]) or '-'}"
                             for m in misses)
        if self.errors:
            lines.append(f"skipped lines ({len(self.errors)}):")
            lines.extend(f"  {e}" for e in self.errors)
        return "\n".join(lines)


def evaluate_file(path: str | Path, watchlist: Watchlist | str = "venezuela") -> EvalReport:
    """Run the matcher over a labelled JSONL file and count what it got right."""
    wl = load_watchlist(watchlist) if isinstance(watchlist, str | Path) else watchlist
    counts = {(True, True): 0, (False, True): 0, (True, False): 0, (False, False): 0}
    misses: list[Miss] = []
    errors: list[str] = []
    by_lang: dict[str, list[int]] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"eval: cannot read {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = _read_item(line)
        except BadLine as exc:
            errors.append(f"line {number}: {exc}")
            continue
        verdict = match_article(wl, title=item["title"], text=item["text"], lang=item["lang"])
        gold = LABELS[item["label"]]
        counts[(gold, verdict.relevant)] += 1
        tally = by_lang.setdefault(item["lang"] or "?", [0, 0])
        tally[0] += gold == verdict.relevant
        tally[1] += 1
        if gold != verdict.relevant:
            misses.append(Miss(
                id=str(item["id"] if item["id"] is not None else f"line {number}"),
                gold=gold, score=verdict.score, lang=item["lang"],
                evidence=tuple(f"{e.kind}:{e.id} {e.term!r}" for e in verdict.evidence)))
    return EvalReport(
        watchlist=wl.name, threshold=wl.threshold,
        true_positives=counts[(True, True)], false_positives=counts[(False, True)],
        false_negatives=counts[(True, False)], true_negatives=counts[(False, False)],
        misses=tuple(misses), errors=tuple(errors),
        by_lang={k: (v[0], v[1]) for k, v in by_lang.items()},
    )


def _read_item(line: str) -> dict:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not JSON ({exc.msg})") from None
    if not isinstance(item, dict):
        raise BadLine("not a JSON object")
    label = item.get("label")
    if label not in LABELS:
        raise BadLine(f"label must be 'relevant' or 'irrelevant', not {label!r}")
    for name in ("title", "text"):
        if not isinstance(item.get(name, ""), str):
            raise BadLine(f"{name} must be a string")
    lang = item.get("lang")
    return {"id": item.get("id"), "title": item.get("title") or "",
            "text": item.get("text") or "", "label": label,
            "lang": lang if isinstance(lang, str) and lang else None}
