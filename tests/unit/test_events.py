"""Events, the pure part: features of a story across English and Spanish, the join score
and its reasons, event profiles, and the B-cubed scores `newsmon eval-events` prints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.dedup.events import (
    COMMON_ENTITIES,
    JOIN_THRESHOLD,
    Profile,
    choose_event,
    feature_values,
    judge,
    lookup_keys,
    story_features,
)
from pipeline.research.events import BadItem, bcubed, read_items

DEV_SET = Path(__file__).resolve().parents[1] / "data" / "events_dev.jsonl"
TUESDAY = datetime(2025, 11, 18, 15, 0, tzinfo=UTC)  # 2025-11-18 was a Tuesday


def features(title: str, text: str = "", *, lang: str = "en", at: datetime = TUESDAY,
             entities: tuple[str, ...] = ()):
    return story_features(title=title, text=text, lang=lang, at=at, entities=entities)


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "text"), [
    ("en", "The strike left six dead."),
    ("en", "Six people were killed in the strike."),
    ("en", "The attack killed 6 on the boat."),
    ("es", "El ataque dejó seis muertos."),
    ("es", "Murieron seis tripulantes en el ataque."),
    ("es", "El bombardeo dejó 6 fallecidos."),
])
def test_a_death_toll_reads_the_same_in_english_and_spanish(lang: str, text: str) -> None:
    assert "dead:6" in features("", text, lang=lang).numbers


def test_numbers_keep_their_unit_and_scale_across_languages() -> None:
    english = features("", "The tanker carried 1.8 million barrels; 1,800 troops were sent.")
    spanish = features("", "El petrolero llevaba 1,8 millones de barriles y 1.800 soldados.",
                       lang="es")
    assert {"barrels:1800000", "troops:1800"} <= english.numbers
    assert {"barrels:1800000", "troops:1800"} <= spanish.numbers


def test_spoken_numbers_compose() -> None:
    assert "prisoners:35" in features("", "Liberaron a treinta y cinco presos.", lang="es").numbers
    assert "migrants:180" in features("", "One hundred eighty migrants landed.").numbers


def test_a_year_an_article_and_the_english_once_are_not_counts() -> None:
    found = features("", "In 2025 boats were hit. Once again a boat was hit, one of many.").numbers
    assert not any(n.endswith((":2025", ":11")) for n in found)
    assert "boats:1" not in found  # "one of many": "one" counts only right before its unit


def test_the_next_number_keeps_its_own_unit() -> None:
    found = features("", "The strike killed six people and 1.8 million barrels burned.").numbers
    assert "barrels:6" not in found
    assert "barrels:1800000" in found


def test_hostile_text_gives_features_not_errors() -> None:
    junk = ("x² ³ muertos ٣ muertos \x00\u202e 1.2.3.4.5 99 de marzo 0 de mayo "
            + "9" * 5000 + " dead " + "ａ" * 200)
    found = features(junk, junk * 3, lang="es")
    assert "dead:3" in found.numbers  # Arabic-Indic three is still three
    assert all(float(n.split(":")[1]) <= 10**12 for n in found.numbers)
    assert found.dates == frozenset()  # no 99 March, no 0 May


# --- dates -------------------------------------------------------------------------------------


def test_weekdays_and_relative_days_resolve_against_publication() -> None:
    thursday = TUESDAY + timedelta(days=2)
    english = features("", "Images taken on Thursday show the pier hit on Tuesday.", at=thursday)
    spanish = features("", "Las imágenes del jueves muestran el muelle atacado el martes.",
                       lang="es", at=thursday)
    assert english.dates == spanish.dates == {"2025-11-18", "2025-11-20"}
    assert features("", "Ayer hubo un apagón.", lang="es").dates == {"2025-11-17"}


def test_calendar_dates_in_either_language() -> None:
    assert features("", "It happened on Nov. 18.").dates == {"2025-11-18"}
    assert features("", "Ocurrió el 18 de noviembre.", lang="es").dates == {"2025-11-18"}
    # a date later in the year than publication is last year's
    assert features("", "Since December 3 nothing changed.").dates == {"2024-12-03"}


# --- places, names, terms ----------------------------------------------------------------------


def test_places_fold_accents_and_languages() -> None:
    assert "guiria" in features("US strikes dock in Guiria").places
    assert "guiria" in features("Bombardeo en Güiria", lang="es").places
    assert "united_states" in features("", "Estados Unidos atacó", lang="es").places
    assert "united_states" in features("", "The United States struck").places


def test_names_skip_sentence_openings_and_keep_initialled_names() -> None:
    found = features("", "Officials said Ramón Quintero was held. Agents of the SEBIN came. "
                         "The carrier Gerald R. Ford's crew watched.").names
    assert {"ramon", "quintero", "gerald", "ford"} <= found
    assert "officials" not in found and "agents" not in found  # sentence openings


def test_event_terms_map_english_and_spanish_to_one_concept() -> None:
    assert features("US strike on a dock").kinds == {"strike"}
    assert features("Bombardeo contra un muelle", lang="es").kinds == {"strike"}
    assert {"strike", "dock"} <= features("", "Bombardeo contra un muelle", lang="es").terms
    assert features("Detienen a opositor", lang="es").kinds == {"arrest"}


# --- the join score ----------------------------------------------------------------------------

DOCK_EN = ("US strikes dock inside Venezuela, four dead",
           ("US aircraft struck a dock near Güiria in Sucre state on Tuesday, killing four "
           "people. Defense Secretary Pete Hegseth said the pier served drug boats."))
DOCK_ES = ("EEUU bombardea un muelle en Güiria: cuatro muertos",
           ("Aviones de Estados Unidos atacaron el martes un muelle en Güiria, estado Sucre. "
           "Murieron cuatro personas, según Pete Hegseth."))
OTHER_STRIKE = ("US strikes boat in Caribbean, three dead",
                ("US forces struck a boat in the Caribbean on Friday, killing three people, "
                "Pete Hegseth said."))


def test_the_same_happening_in_english_and_spanish_joins_with_its_reasons() -> None:
    english = features(*DOCK_EN, entities=("venezuela", "us_boat_strikes"))
    spanish = features(*DOCK_ES, lang="es", at=TUESDAY + timedelta(hours=2),
                       entities=("us_boat_strikes",))
    verdict = judge(spanish, Profile.of(english))
    assert verdict.joins
    assert verdict.score >= JOIN_THRESHOLD
    assert "guiria" in verdict.reason["places"]
    assert "dead:4" in verdict.reason["numbers"]
    assert verdict.reason["dates"] == ["2025-11-18"]
    assert "strike" in verdict.reason["kinds"]


def test_a_strike_on_another_day_stays_apart_despite_shared_entities() -> None:
    tuesday = features(*DOCK_EN, entities=("venezuela", "us_boat_strikes"))
    friday = features(*OTHER_STRIKE, at=TUESDAY + timedelta(days=3),
                      entities=("venezuela", "us_boat_strikes"))
    verdict = judge(friday, Profile.of(tuesday))
    assert not verdict.joins
    assert "other_dates" in verdict.reason["against"]
    assert "other_numbers" in verdict.reason["against"]  # three dead against four


def test_arrests_in_two_cities_stay_apart() -> None:
    caracas = features("Police arrest 12 gang members in Maracaibo",
                       "Police arrested 12 suspected gang members in Maracaibo on Tuesday.")
    santiago = features("Chile arrests eight gang members in Santiago",
                        "Chilean police arrested eight gang members in Santiago on Tuesday.",
                        at=TUESDAY + timedelta(hours=3))
    verdict = judge(santiago, Profile.of(caracas))
    assert not verdict.joins
    assert "other_places" in verdict.reason["against"]


def test_only_the_common_core_is_not_enough() -> None:
    first = features("Maduro speaks in Venezuela", "Nicolás Maduro spoke on Tuesday.",
                     entities=("venezuela", "nicolas_maduro"))
    second = features("Maduro and Venezuela", "Nicolás Maduro said on Tuesday Venezuela is calm.",
                      at=TUESDAY + timedelta(hours=1), entities=("venezuela", "nicolas_maduro"))
    verdict = judge(second, Profile.of(first))
    assert not verdict.joins
    assert verdict.reason.get("not_distinctive") is True


def test_days_apart_weigh_against_joining() -> None:
    english = features(*DOCK_EN)
    near = judge(features(*DOCK_ES, lang="es", at=TUESDAY + timedelta(hours=2)),
                 Profile.of(english))
    far = judge(features(*DOCK_ES, lang="es", at=TUESDAY + timedelta(days=3)),
                Profile.of(english))
    assert far.score < near.score
    assert "days_apart" in far.reason["against"]


def test_choose_event_takes_the_best_joining_candidate_and_says_why_it_started_one() -> None:
    dock = Profile.of(features(*DOCK_EN))
    other = Profile.of(features(*OTHER_STRIKE, at=TUESDAY - timedelta(days=1)))
    spanish = features(*DOCK_ES, lang="es", at=TUESDAY + timedelta(hours=2))
    chosen, reason = choose_event(spanish, [(7, other), (9, dock)])
    assert chosen == 9 and reason["joined"] is True
    chosen, reason = choose_event(spanish, [(7, other)])
    assert chosen is None and reason["new"] is True and "best_rejected_score" in reason


# --- profiles and keys -------------------------------------------------------------------------


def test_a_profile_counts_stories_per_value_and_spans_their_times() -> None:
    english = features(*DOCK_EN)
    spanish = features(*DOCK_ES, lang="es", at=TUESDAY + timedelta(hours=2))
    profile = Profile.of(english).joined(spanish)
    assert profile.stories == 2
    assert profile.counts["places"]["guiria"] == 2
    assert (profile.first_at, profile.last_at) == (english.at, spanish.at)
    assert json.loads(json.dumps(profile.counts)) == profile.counts  # stored as jsonb


def test_lookup_keys_leave_out_the_common_core_and_broad_places() -> None:
    story = features(*DOCK_EN, entities=("venezuela", "us_boat_strikes", "southcom"))
    keys = lookup_keys(feature_values(story))
    assert "p:guiria" in keys and "n:dead:4" in keys and "d:2025-11-18" in keys
    assert "e:southcom" in keys
    assert not any(k == f"e:{e}" for e in COMMON_ENTITIES for k in keys)
    assert "p:venezuela" not in keys and "p:united_states" not in keys


# --- evaluation --------------------------------------------------------------------------------


def test_bcubed_on_a_worked_example() -> None:
    gold = ["a", "a", "a", "b"]
    found = [1, 1, 2, 2]
    scores = bcubed(gold, found)
    # precision per item: 1, 1, 1/2, 1/2; recall: 2/3, 2/3, 1/3, 1
    assert scores.precision == pytest.approx(0.75)
    assert scores.recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1) / 4)


def test_bcubed_cross_language_counts_only_pairs_in_different_languages() -> None:
    gold = ["a", "a", "a", "b"]
    found = [1, 1, 2, 2]
    langs = ["en", "es", "es", "en"]
    scores = bcubed(gold, found, langs, cross_language=True)
    # item 0 (en): found partner 1 (es, same gold) -> P 1; gold partners 1, 2 -> R 1/2
    # item 1 (es): found partner 0 -> P 1; gold partners 0 -> R 1
    # item 2 (es): found partner 3 (other gold) -> P 0; gold partner 0 -> R 0
    # item 3 (en): found partner 2 -> P 0; no gold partner in another language
    assert scores.precision == pytest.approx(0.5)
    assert scores.recall == pytest.approx(0.5)
    assert scores.items == 4


def test_perfect_grouping_scores_one() -> None:
    scores = bcubed(["x", "x", "y"], ["p", "p", "q"])
    assert (scores.precision, scores.recall, scores.f1) == (1.0, 1.0, 1.0)


def test_unreadable_lines_are_reported_not_fatal() -> None:
    lines = ['{"id": 1, "title": "A", "text": "b", "published_at": "2025-11-18T10:00:00Z"}',
             "not json", '{"id": 2, "title": "B"}', "",
             '{"title": "no id", "published_at": "2025-11-18T10:00:00Z"}']
    read = list(read_items(lines))
    assert [type(r).__name__ for r in read] == ["Item", "BadItem", "BadItem", "BadItem"]
    assert all("line" in str(r) for r in read if isinstance(r, BadItem))


def test_the_dev_set_is_large_bilingual_and_labelled() -> None:
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines()]
    events = {row["event"] for row in rows}
    assert len(rows) >= 120 and len(events) >= 15
    assert {row["lang"] for row in rows} == {"en", "es"}
    cross = [e for e in events if len({r["lang"] for r in rows if r["event"] == e}) == 2]
    assert len(cross) >= 15
    assert {row["split"] for row in rows} == {"tune", "check"}
