"""Verdicts explain themselves: evidence offsets, snippets, entity counts, scoring, language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.match import detect_language, load_watchlist, match_article

DEV_SET = Path(__file__).resolve().parents[1] / "data" / "relevance_dev.jsonl"


@pytest.fixture(scope="module")
def wl():
    return load_watchlist("venezuela")


def check_evidence(verdict, *, title: str, text: str) -> None:
    fields = {"title": title, "text": text}
    for e in verdict.evidence:
        value = fields[e.field]
        assert 0 <= e.start < e.end <= len(value)
        assert value[e.start:e.end] == e.term
        assert " ".join(e.term.split()) in e.snippet
        assert e.kind in ("entity", "rule")


def test_every_relevant_verdict_on_the_dev_set_carries_located_evidence(wl):
    for line in DEV_SET.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        verdict = match_article(wl, title=item["title"], text=item["text"], lang=item.get("lang"))
        if verdict.relevant:
            assert verdict.evidence, item["id"]
        check_evidence(verdict, title=item["title"], text=item["text"])


_FILLER = st.text(alphabet=st.sampled_from("abc xyz.\n,áé"), max_size=300)


@settings(max_examples=60, deadline=None)
@given(_FILLER, _FILLER, st.sampled_from([
    "Tren de Aragua", "TdA", "régimen de Maduro", "narcolanchas atacadas", "Nicolás  Maduro",
    "Cartel de\nlos Soles", "Padrino-López", "Sebin",
]))
def test_offsets_and_snippets_hold_wherever_the_name_sits(wl, before, after, name):
    text = f"{before} {name} {after}"
    verdict = match_article(wl, title=name, text=text, lang="es")
    check_evidence(verdict, title=name, text=text)
    assert verdict.evidence


def test_entity_mentions_count_title_and_text_and_locate_the_first_in_the_text(wl):
    title = "Tren de Aragua: nueva captura"
    text = "La policía detuvo a un cabecilla del Tren de Aragua. El TdA opera en Chile."
    verdict = match_article(wl, title=title, text=text, lang="es")
    gang = next(m for m in verdict.entities if m.entity_id == "tren_de_aragua")
    assert gang.count == 3
    assert gang.first_offset == text.index("Tren de Aragua")
    only_title = match_article(wl, title="Cabello responde", text="Diosdado Cabello habló.",
                               lang="es")
    assert {m.entity_id for m in only_title.entities} == {"diosdado_cabello"}
    title_only = match_article(wl, title="Diosdado Cabello responde", text="Sin más.", lang="es")
    assert title_only.entities[0].first_offset == -1


def test_the_title_weighs_more_than_a_passing_mention_deep_in_the_body(wl):
    filler = "El mercado de flores abrió temprano y los vecinos compraron pan. " * 40
    in_title = match_article(wl, title="Diosdado Cabello responde", text=filler, lang="es")
    deep = match_article(wl, title="Mercado de flores",
                         text=filler + "Diosdado Cabello visitó la zona.", lang="es")
    assert in_title.relevant and not deep.relevant
    assert in_title.score > deep.score > 0


def test_distinct_entities_together_count_for_more_than_apart(wl):
    def score(text: str) -> float:
        return match_article(wl, title="", text=text, lang="es").score
    both = score("Delcy Rodríguez y Diosdado Cabello viajaron.")
    assert both > score("Delcy Rodríguez viajó.") + score("Diosdado Cabello viajó.")


def test_an_unrelated_article_has_no_evidence_and_scores_zero(wl):
    verdict = match_article(wl, title="Lluvias en Madrid",
                            text="La AEMET prevé tormentas en el centro peninsular.", lang="es")
    assert verdict == verdict.__class__(watchlist="venezuela", relevant=False, score=0.0)


def test_a_title_or_text_that_is_not_text_is_a_clear_error(wl):
    with pytest.raises(ValueError, match="match: title must be text"):
        match_article(wl, title=5, text="")  # type: ignore[arg-type]
    assert not match_article(wl, title=None, text=None).relevant  # type: ignore[arg-type]


@pytest.mark.parametrize("text, expected", [
    ("El gobierno anunció nuevas medidas económicas para el próximo año.", "es"),
    ("The government announced new economic measures for next year.", "en"),
    ("Maduro", None),  # too short to tell
    ("", None),
    ("12345 67890 !!!", None),
])
def test_detect_language(text, expected):
    assert detect_language(text) == expected


def test_the_language_is_detected_when_not_given_and_picks_the_vocabulary(wl):
    # "lancha"/"ataque" are Spanish strike vocabulary: detection must find Spanish first.
    title = "Otro ataque contra una lancha en el Caribe deja tres muertos"
    text = "El Pentágono dijo que la embarcación transportaba droga hacia el norte."
    detected = match_article(wl, title=title, text=text)
    assert detected.relevant
    assert {e.id for e in detected.evidence} >= {"boat_strike"}
    wrong = match_article(wl, title=title, text=text, lang="en")
    assert "boat_strike" not in {e.id for e in wrong.evidence}
