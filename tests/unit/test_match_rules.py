"""Keyword rules: AND/OR/NOT, NEAR/n, field scope, case, language; and watchlist errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pipeline.match import WatchlistError, load_watchlist, match_article
from pipeline.match.query import QueryError, parse_query
from pipeline.match.watchlist import compile_watchlist

SMALL = """
name = "small"
threshold = 1.0
languages = ["en", "es"]

[scoring]
title = 1.0
lead = 1.0
body = 1.0
deep = 1.0

[vocab.boat]
en = ["boat", "vessel"]
es = ["lancha"]

[vocab.strike]
en = ["strike", "struck"]
es = ["ataque"]

[[rule]]
id = "near"
expr = "@strike NEAR/3 @boat"

[[rule]]
id = "not"
expr = "cocaine AND NOT \\"Coast Guard\\""

[[rule]]
id = "title_only"
expr = "title:harbor"

[[rule]]
id = "body_only"
expr = "body:harbor"

[[rule]]
id = "caps"
expr = "=US AND navy"
"""


@pytest.fixture(scope="module")
def small():
    return compile_watchlist(tomllib.loads(SMALL), path=Path("small.toml"))


def rules(wl, *, title: str = "", text: str = "", lang: str | None = "en") -> set[str]:
    verdict = match_article(wl, title=title, text=text, lang=lang)
    return {e.id for e in verdict.evidence if e.kind == "rule"}


def test_near_counts_the_words_between_the_hits(small):
    assert "near" in rules(small, text="A strike on one small boat.")  # 3 words between
    assert "near" not in rules(small, text="A strike on one very small boat.")  # 4 words
    assert "near" in rules(small, text="The vessel was struck.")  # either order


def test_near_never_pairs_hits_across_title_and_body(small):
    assert "near" not in rules(small, title="Strike", text="Boat")


def test_not_vetoes_a_rule(small):
    assert "not" in rules(small, text="Agents found cocaine.")
    assert "not" not in rules(small, text="The Coast Guard found cocaine.")


def test_field_scope(small):
    assert rules(small, title="Harbor closed", text="") >= {"title_only"}
    assert "body_only" not in rules(small, title="Harbor closed", text="")
    assert rules(small, title="Closed", text="The harbor") >= {"body_only"}
    assert "title_only" not in rules(small, title="Closed", text="The harbor")


def test_a_capitalised_term_does_not_match_the_pronoun(small):
    assert "caps" in rules(small, text="The US navy said.")
    assert "caps" not in rules(small, text="Tell us about the navy.")


def test_language_picks_the_vocabulary(small):
    spanish = "Un ataque contra una lancha."
    assert "near" in rules(small, text=spanish, lang="es")
    assert "near" not in rules(small, text=spanish, lang="en")  # Spanish words, English rules
    assert "near" in rules(small, text=spanish, lang="pt")  # not a watchlist language: all apply


def test_rule_evidence_points_at_the_words_that_made_it_true(small):
    text = "Yesterday a strike on one small boat killed three."
    verdict = match_article(small, title="", text=text, lang="en")
    near = next(e for e in verdict.evidence if e.id == "near")
    assert text[near.start:near.end] == near.term == "strike on one small boat"


@pytest.mark.parametrize("source, message", [
    ("(a OR b", "missing"),
    ("NOT a", "positive"),
    ("a NEAR/3 NOT b", "NEAR"),
    ("a AND", "expected a term"),
])
def test_malformed_expressions_are_refused_with_a_reason(source, message):
    with pytest.raises(QueryError, match=message):
        parse_query(source)


def test_and_binds_tighter_than_or():
    assert repr(parse_query("a OR b AND c")).startswith("AnyOf")


@pytest.mark.parametrize("patch, message", [
    ('expr = "@nowhere AND boat"', "unknown vocabulary @nowhere"),
    ('expr = "#nobody AND boat"', "unknown entity #nobody"),
    ('expr = "(boat"', "missing"),
])
def test_a_broken_watchlist_names_the_file_and_the_problem(patch, message):
    source = SMALL.replace('expr = "@strike NEAR/3 @boat"', patch)
    with pytest.raises(WatchlistError, match=message) as error:
        compile_watchlist(tomllib.loads(source), path=Path("broken.toml"))
    assert "broken.toml" in str(error.value)


def test_watchlists_load_by_name_or_path_and_unknown_names_say_what_exists(tmp_path):
    shipped = load_watchlist("venezuela")
    assert load_watchlist(shipped.path) is shipped  # compiled once
    with pytest.raises(WatchlistError, match="venezuela"):
        load_watchlist("atlantis")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [", encoding="utf-8")
    with pytest.raises(WatchlistError, match="not valid TOML"):
        load_watchlist(bad)
    good = tmp_path / "mine.toml"
    good.write_text(SMALL, encoding="utf-8")
    assert load_watchlist(str(good)).name == "small"
