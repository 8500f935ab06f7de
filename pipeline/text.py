"""Text from outside (feeds, APIs, pages) made safe to store, match and show, once, at the edge.

Every field a source or a page gives us passes through here before it is stored:
- NUL is dropped: PostgreSQL text cannot hold it, and one NUL in a title used to fail
  the whole cycle.
- Lone surrogates are dropped: they cannot be encoded as UTF-8 (JSON allows "\\ud800").
- Bidi embeddings, overrides and isolates are dropped: they make text read differently
  from what it is ("Trojan Source"); a headline has no use for them.
- Other C0/C1 controls and line/paragraph separators become spaces, so a CR LF can never
  reach a mail header, a log line or a CSV cell.
- Titles and names may carry RFC 2047 encoded words (`=?utf-8?b?...?=`); they are decoded,
  and what they decode to is cleaned again, so an encoded CR LF is a space like any other.
- Lengths are capped (see MAX_TITLE and friends) so a hostile entry costs nothing later.
"""

from __future__ import annotations

import email.errors
import email.policy
import html
import re

import nh3

from pipeline.encoding import repair_mojibake

# Headlines run under 150 characters (news sites and search engines cut them there); 500
# leaves room for titles that repeat their standfirst and bounds what matching, the
# database and email subjects ever see.
MAX_TITLE = 500
# A byline of a dozen names, an outlet's name; the same cap as a subscriber's name.
MAX_NAME = 200
# Teasers are a paragraph; a feed that carries the whole article in its description keeps
# about 1,500 words for summary matching, while a 5 MB description costs nothing later.
MAX_SUMMARY = 10_000
# Links: the 2,048 characters browsers, sitemaps.org and search engines keep to. Longer
# ones are refused where they enter; PostgreSQL cannot index a value past 2,704 bytes.
MAX_URL = 2048

_INVISIBLE = re.compile("[\x00\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_CONTROLS = re.compile("[\x01-\x1f\x7f-\x9f\u2028\u2029]")
_ENCODED_WORD = "=?"


def strip_controls(value: str) -> str:
    """`value` without invisible characters and with control characters as spaces.

    For values that are not prose (links, ids, error messages): nothing else changes.
    """
    return _CONTROLS.sub(" ", _INVISIBLE.sub("", value))


def clean_text(value: object, *, limit: int | None = None, encoded_words: bool = False) -> str:
    """One line of plain text: no tags, no controls, double-encoded UTF-8 repaired, capped.

    `encoded_words` decodes RFC 2047 encoded words first (titles, authors).
    """
    if not value:
        return ""
    # Mojibake repair needs the C1 characters that misread UTF-8 is made of, so it comes
    # before they become spaces; NUL and lone surrogates go first (ftfy and nh3 choke).
    text = strip_controls(repair_mojibake(_INVISIBLE.sub("", str(value))))
    if encoded_words and _ENCODED_WORD in text:
        text = strip_controls(decode_encoded_words(text))
    if "<" in text or "&" in text:
        text = strip_controls(html.unescape(nh3.clean(text, tags=set())))
    text = " ".join(text.split())
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def clean_title(value: object, *, limit: int = MAX_TITLE) -> str:
    return clean_text(value, limit=limit, encoded_words=True)


def clean_author(value: object) -> str | None:
    """A byline, or None."""
    return clean_text(value, limit=MAX_NAME, encoded_words=True) or None


def clean_summary(value: object) -> str:
    return clean_text(value, limit=MAX_SUMMARY)


def clean_id(value: object) -> str | None:
    """An identifier (a feed entry's guid) without controls; None if nothing is left."""
    return strip_controls(str(value)).strip() or None if value else None


def decode_encoded_words(text: str) -> str:
    """RFC 2047 encoded words decoded as a mail reader would; the text as it was if it cannot be."""
    try:
        # The mail package's lenient header parser: unknown charsets and broken base64
        # keep what can be read instead of raising.
        return str(email.policy.default.header_factory("subject", text))
    except (email.errors.MessageError, LookupError, ValueError, IndexError):
        return text
