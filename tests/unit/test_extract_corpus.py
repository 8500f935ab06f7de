"""Fidelity on real pages: newsmon's extraction must not lose F1 against bare trafilatura."""

from __future__ import annotations

from pipeline.extract.evaluate import evaluate_pages, load_pages, token_scores


def test_token_scores_count_overlap_as_a_bag_of_words() -> None:
    assert token_scores("Maduro habló", "Maduro habló") == (1.0, 1.0, 1.0)
    precision, recall, f1 = token_scores("Maduro habló hoy. Cookies!", "maduro HABLÓ hoy")
    assert (precision, recall) == (0.75, 1.0)
    assert round(f1, 4) == 0.8571
    assert token_scores("", "texto esperado") == (0.0, 0.0, 0.0)


def test_our_f1_is_not_below_bare_trafilatura_on_a_corpus_sample(shared_corpus) -> None:
    pages = load_pages(shared_corpus / "articles")
    sample = pages[::4]  # every fourth page keeps both datasets and the run short
    assert {p.kind for p in sample} == {"full_text", "segments"}

    report = evaluate_pages(sample, workers=2)

    assert report.ours.f1 >= report.bare.f1 - 0.005, (report.ours, report.bare)
    assert report.ours.failures == 0
    assert report.ours.segment_pages == report.bare.segment_pages > 0
