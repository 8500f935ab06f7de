"""The one-pass term scanner: accents, case, punctuation, plurals, stems, offsets."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.match.scanner import Scanner, TermError, fold, parse_term

TERMS = ["Tren de Aragua", "Aragua", "narcolancha*", "narco*", "drug", "drug boat",
         "Padrino López", "Rodríguez", "sanción", "EE. UU.", "MS-13"]


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner([parse_term(t) for t in TERMS])


def found(scanner: Scanner, text: str) -> list[tuple[str, str]]:
    """(term as written in the watchlist, text as written in the article) for each hit."""
    return [(scanner.terms[t].text, text[s:e]) for t, s, e in scanner.scan(text)]


def test_accents_case_and_punctuation_between_words_are_ignored(scanner):
    text = "RODRIGUEZ met padrino-lopez; the TREN DE\nARAGUA replied."
    assert found(scanner, text) == [
        ("rodriguez", "RODRIGUEZ"), ("padrino lopez", "padrino-lopez"),
        ("tren de aragua", "TREN DE\nARAGUA"), ("aragua", "ARAGUA"),
    ]


def test_matches_only_whole_words(scanner):
    assert found(scanner, "El entrenador de Araguaney y los drugstores") == []


def test_plural_endings_and_stems(scanner):
    text = "Las sanciones y las narcolanchas; two drugs; narcotráfico."
    assert ("sancion", "sanciones") in found(scanner, text)
    assert ("narcolancha*", "narcolanchas") in found(scanner, text)
    assert ("drug", "drugs") in found(scanner, text)
    assert ("narco*", "narcotráfico") in found(scanner, text)


def test_the_longest_term_wins_and_reports_the_terms_inside_it(scanner):
    hits = found(scanner, "A drug boat and the Tren de Aragua.")
    assert ("drug boat", "drug boat") in hits
    assert ("drug", "drug") in hits  # a vocabulary word is not lost inside a phrase
    assert ("tren de aragua", "Tren de Aragua") in hits
    assert ("aragua", "Aragua") in hits  # reported; the matcher decides it is not the state


def test_abbreviations_with_dots_and_hyphens(scanner):
    assert found(scanner, "EE.UU. y la MS-13") == [("ee uu", "EE.UU"), ("ms 13", "MS-13")]


def test_offsets_survive_decomposed_accents_and_case_folding_that_changes_length(scanner):
    text = "İstanbul: Rodri\u0301guez habló de la sancio\u0301n."
    hits = found(scanner, text)
    assert hits == [("rodriguez", "Rodri\u0301guez"), ("sancion", "sancio\u0301n")]


def test_quotes_question_marks_and_other_alphabets_around_words(scanner):
    text = "¿Y el “Tren de Aragua”? Dijo ‘Rodríguez’… Erdoğan y Łódź; Rodríguez?"
    hits = found(scanner, text)
    assert ("tren de aragua", "Tren de Aragua") in hits
    assert [w for t, w in hits if t == "rodriguez"] == ["Rodríguez", "Rodríguez"]
    odd = Scanner([parse_term("erdo"), parse_term("dz")])
    assert found(odd, text) == []  # a letter outside Latin-1 does not split a word


def test_a_term_outside_the_latin_alphabet_is_refused():
    with pytest.raises(TermError, match="Latin alphabet"):
        parse_term("Мадуро")


def test_a_term_without_letters_is_refused():
    with pytest.raises(TermError, match="no letters"):
        parse_term(" -- ")


_WORDS = st.sampled_from(["el", "Tren", "de", "Aragua", "narcolanchas", "drug", "boat", "López",
                          "Padrino", "x", "ÁRAGUA", "sanciones", "İ", "e\u0301", "—", "\n"])


@settings(max_examples=200, deadline=None)
@given(st.lists(_WORDS, max_size=25), st.sampled_from([" ", "  ", "-", ", "]))
def test_every_hit_is_inside_the_text_and_folds_to_its_term(words, glue):
    scanner = Scanner([parse_term(t) for t in TERMS])
    text = glue.join(words)
    for term, start, end in scanner.scan(text):
        assert 0 <= start < end <= len(text)
        written = fold(unicodedata.normalize("NFC", text[start:end]))
        first_word = scanner.terms[term].words[0]
        assert written.lstrip().startswith(first_word[:4])
