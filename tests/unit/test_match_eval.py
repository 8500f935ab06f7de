"""The evaluation harness, and the development set meeting its targets."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pipeline.match import evaluate_file, load_watchlist

DEV_SET = Path(__file__).resolve().parents[1] / "data" / "relevance_dev.jsonl"


def test_the_dev_set_meets_the_targets():
    report = evaluate_file(DEV_SET, load_watchlist("venezuela"))
    assert not report.errors
    assert report.total >= 160
    assert report.precision >= 0.97, report.format()
    assert report.recall >= 0.95, report.format()


def test_the_dev_set_is_balanced_and_has_ids():
    items = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines()]
    langs = Counter(item["id"].split("-")[0] for item in items)
    labels = Counter(item["label"] for item in items)
    assert set(langs) == {"en", "es"} and min(langs.values()) >= 0.45 * len(items)
    assert min(labels.values()) >= 0.4 * len(items)
    assert len({item["id"] for item in items}) == len(items)


def test_report_counts_and_lists_the_misclassified(tmp_path):
    lines = [
        {"id": "hit", "title": "Detienen a miembros del Tren de Aragua", "text": "En Chile.",
         "lang": "es", "label": "relevant"},
        {"id": "missed", "title": "Lluvias", "text": "Llueve en Madrid.", "label": "relevant"},
        {"id": "false-alarm", "title": "Nicolás Maduro habla", "text": "En Caracas.",
         "label": "irrelevant"},
        {"id": "quiet", "title": "Receta de arepas", "text": "Harina y agua.",
         "label": "irrelevant"},
    ]
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines)
                    + '\nnot json\n{"id": "x", "label": "maybe"}\n\n', encoding="utf-8")
    report = evaluate_file(path, "venezuela")
    assert (report.true_positives, report.false_positives,
            report.false_negatives, report.true_negatives) == (1, 1, 1, 1)
    assert report.precision == report.recall == report.f1 == 0.5
    assert report.false_positive_ids == ["false-alarm"]
    assert report.false_negative_ids == ["missed"]
    assert len(report.errors) == 2 and "line 5: not JSON" in report.errors[0]
    text = report.format()
    for needle in ("precision 0.500", "recall 0.500", "F1 0.500", "false-alarm", "missed",
                   "skipped lines (2)"):
        assert needle in text
