"""Revisions: whether a re-fetched page changed in words, what the edit was, and when a
known page is worth fetching again. Pure: the store writes what these decide."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from difflib import SequenceMatcher, unified_diff

from pipeline.dedup.keys import normalise_text, text_fingerprint
from pipeline.models import record

MAX_DIFF_CHARS = 20_000  # article_versions.diff is cut here

# Re-fetch policy for known pages (see should_refetch).
REFETCH_MIN_INTERVAL = timedelta(minutes=30)
REFETCH_MAX_AGE = timedelta(days=3)
REFETCH_FUTURE_SKEW = timedelta(minutes=10)


@record
class DiffSummary:
    """What one version changed, as stored in article_versions."""

    title_changed: bool
    chars_added: int
    chars_removed: int
    words_added: int
    words_removed: int
    paragraphs_changed: int
    diff: str


def is_material_change(*, old_title: str, old_text: str, new_title: str, new_text: str) -> bool:
    """True when a re-fetched page differs in words (not just case, spacing, punctuation or
    accents) in its text or headline. A page that now extracts to no text is a fetch or
    extraction problem, never a revision."""
    if not normalise_text(new_text):
        return False
    return (
        text_fingerprint(old_text) != text_fingerprint(new_text)
        or normalise_text(old_title) != normalise_text(new_title)
    )


def diff_versions(*, old_title: str, old_text: str, new_title: str, new_text: str) -> DiffSummary:
    """Summary of the edit from one version to the next, paragraph by paragraph.

    Paragraphs are aligned with difflib; inside each changed run of paragraphs, words are
    compared as a multiset (whitespace-separated, punctuation kept), so a corrected figure
    counts one word removed and one added. Characters are those of the words counted.
    """
    old_paras, new_paras = _paragraphs(old_text), _paragraphs(new_text)
    counts = Counter()
    matcher = SequenceMatcher(None, old_paras, new_paras, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        counts["paragraphs"] += max(i2 - i1, j2 - j1)
        old_words = Counter(" ".join(old_paras[i1:i2]).split())
        new_words = Counter(" ".join(new_paras[j1:j2]).split())
        added, removed = new_words - old_words, old_words - new_words
        counts["words_added"] += sum(added.values())
        counts["words_removed"] += sum(removed.values())
        counts["chars_added"] += sum(len(w) * n for w, n in added.items())
        counts["chars_removed"] += sum(len(w) * n for w, n in removed.items())
    diff = "\n".join(unified_diff(old_paras, new_paras, "before", "after", n=0, lineterm=""))
    return DiffSummary(
        title_changed=old_title.strip() != new_title.strip(),
        chars_added=counts["chars_added"],
        chars_removed=counts["chars_removed"],
        words_added=counts["words_added"],
        words_removed=counts["words_removed"],
        paragraphs_changed=counts["paragraphs"],
        diff=diff[:MAX_DIFF_CHARS],
    )


def should_refetch(
    *,
    entry_updated_at: datetime | None,
    checked_at: datetime,
    discovered_at: datetime,
    published_at: datetime | None,
    now: datetime,
    min_interval: timedelta = REFETCH_MIN_INTERVAL,
    max_age: timedelta = REFETCH_MAX_AGE,
) -> bool:
    """Whether a known page is worth fetching again to look for a revision.

    Yes when its feed entry says it was updated after we last fetched the page, unless the
    date is missing or in the future (no signal), the article is older than ``max_age``
    (edits after a few days are rare and feeds keep relisting old entries), or we fetched it
    less than ``max(min_interval, age / 4)`` ago: a feed that restamps every entry on every
    build then costs about twenty fetches per article over its life, not one per cycle.
    All datetimes must be timezone-aware.
    """
    if entry_updated_at is None or entry_updated_at > now + REFETCH_FUTURE_SKEW:
        return False
    if entry_updated_at <= checked_at:
        return False
    born = min(published_at, discovered_at) if published_at else discovered_at
    age = now - born
    if age > max_age:
        return False
    return now - checked_at >= max(min_interval, age / 4)


def _paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
