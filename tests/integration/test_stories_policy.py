"""The store's pure decisions: what counts as a revision, its diff summary, when to re-fetch.

No database needed; these sit beside the store tests because they define its behaviour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.dedup.revisions import diff_versions, is_material_change, should_refetch

OLD = (
    "CARACAS (Reuters) - Venezuela's government said on Tuesday it had arrested 12 people.\n"
    "The arrests followed a raid in Aragua state, officials said.\n"
    "Opposition leaders called the operation political."
)


def test_a_corrected_figure_and_an_added_paragraph_are_counted() -> None:
    note = "This story was updated with the new figure."
    new = OLD.replace("12 people", "15 people") + "\n" + note

    summary = diff_versions(old_title="Arrests", old_text=OLD, new_title="Arrests", new_text=new)

    assert (summary.words_removed, summary.chars_removed) == (1, 2)
    assert summary.words_added == 1 + len(note.split())
    assert summary.chars_added == 2 + len(note.replace(" ", ""))
    assert summary.paragraphs_changed == 2
    assert summary.title_changed is False
    assert f"+{note}" in summary.diff.splitlines()


def test_a_dropped_paragraph_and_a_new_headline() -> None:
    new = OLD.replace("\nOpposition leaders called the operation political.", "")

    summary = diff_versions(old_title="Arrests", old_text=OLD, new_title="12 held", new_text=new)

    assert (summary.words_added, summary.words_removed) == (0, 6)
    assert summary.paragraphs_changed == 1
    assert summary.title_changed is True


@pytest.mark.parametrize("new_text,new_title,material", [
    (OLD, "Arrests", False),
    (OLD.upper().replace(" - ", " — ").replace("\n", "\n\n"), "ARRESTS!", False),
    (OLD.replace("Tuesday", "Wednesday"), "Arrests", True),
    (OLD, "Venezuela arrests 12", True),
    ("", "Venezuela arrests 12", False),  # an empty extraction is never a new version
])
def test_only_changes_in_words_are_material(new_text, new_title, material) -> None:
    assert is_material_change(old_title="Arrests", old_text=OLD, new_title=new_title,
                              new_text=new_text) is material


NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _refetch(*, updated: timedelta | None, checked: timedelta, published: timedelta | None,
             discovered: timedelta | None = None) -> bool:
    """Ages relative to NOW (how long ago)."""
    return should_refetch(
        entry_updated_at=NOW - updated if updated is not None else None,
        checked_at=NOW - checked,
        discovered_at=NOW - (discovered if discovered is not None else checked),
        published_at=NOW - published if published is not None else None,
        now=NOW,
    )


def test_an_entry_updated_after_our_fetch_is_fetched_again() -> None:
    assert _refetch(updated=timedelta(minutes=5), checked=timedelta(hours=2),
                    published=timedelta(hours=3))


def test_no_refetch_without_a_newer_update_date() -> None:
    assert not _refetch(updated=None, checked=timedelta(hours=2), published=timedelta(hours=3))
    assert not _refetch(updated=timedelta(hours=3), checked=timedelta(hours=2),
                        published=timedelta(hours=3))
    assert not _refetch(updated=-timedelta(hours=1), checked=timedelta(hours=2),  # future date
                        published=timedelta(hours=3))


def test_old_articles_are_left_alone() -> None:
    assert not _refetch(updated=timedelta(minutes=5), checked=timedelta(days=2),
                        published=timedelta(days=4))
    assert not _refetch(updated=timedelta(minutes=5), checked=timedelta(days=2),
                        published=None, discovered=timedelta(days=4))


def test_checks_back_off_as_the_article_ages() -> None:
    # 10 minutes since our last fetch: too soon for anything (30-minute floor)
    assert not _refetch(updated=timedelta(minutes=1), checked=timedelta(minutes=10),
                        published=timedelta(hours=1))
    # 40 minutes: enough for a 1-hour-old article, not for a 2-day-old one (wait 12 h)
    assert _refetch(updated=timedelta(minutes=1), checked=timedelta(minutes=40),
                    published=timedelta(hours=1))
    assert not _refetch(updated=timedelta(minutes=1), checked=timedelta(minutes=40),
                        published=timedelta(days=2))
    assert _refetch(updated=timedelta(minutes=1), checked=timedelta(hours=13),
                    published=timedelta(days=2))


def test_a_feed_that_restamps_every_build_costs_a_bounded_number_of_fetches() -> None:
    published = NOW - timedelta(minutes=5)
    checked, fetches = published, 0
    for minute in range(0, 5 * 24 * 60, 10):  # a cycle every 10 minutes for 5 days
        now = published + timedelta(minutes=minute)
        if should_refetch(entry_updated_at=now, checked_at=checked, discovered_at=published,
                          published_at=published, now=now):
            checked, fetches = now, fetches + 1
    assert 0 < fetches <= 25
