"""Page bytes -> `Article`: decode, trafilatura's main text and metadata, repaired text.

`extract_article` is the whole stage for one page (`extract.pool` runs it in worker
processes; `extract.completeness` says whether what came out is the whole article).
The choice of trafilatura options is measured and explained in docs/decisions.md.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urljoin

import htmldate
import trafilatura
from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_catstags,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document

from pipeline.dates import parse_iso_datetime
from pipeline.encoding import decode_html, repair_mojibake
from pipeline.errors import NewsmonError
from pipeline.models import Article
from pipeline.text import MAX_NAME, MAX_URL, clean_author, clean_summary, clean_text, clean_title

log = logging.getLogger(__name__)

# Chosen on the shared corpus (docs/decisions.md, "Extraction"). Precision mode keeps
# cookie banners, "related" lists and reader comments out of the text. Fast mode skips
# trafilatura's readability/jusText comparison, a third of its time, which precision mode
# needs only on the pages the retry below catches. No dedup: trafilatura's duplicate
# cache lives as long as the process, so a page's text would depend on which pages the
# same worker happened to see before.
PRECISION_OPTIONS: dict[str, Any] = {
    "favor_precision": True,
    "fast": True,
    "include_comments": False,
    "include_tables": True,
    "deduplicate": False,
}
# Precision mode now and then drops the body: it finds no article, settles on one wrong
# small block (a reprints notice), or keeps a review's verdict box and not the review.
# The symptom is a result short against what the page holds, its paragraph text, so
# that is what triggers one retry with trafilatura's balanced cascade (readability and
# jusText fallbacks included). A result under RETRY_BELOW_CHARS is retried whatever the
# page: some pages hold their text in <div>s and <br>s, not <p>. The balanced text is
# kept only if clearly longer; where precision dropped nothing but boilerplate the two
# are within a few tenths of each other. Measured on every shared corpus (decisions.md,
# "Extraction"): a precision result that is right is rarely under a fifth of the page's
# paragraph text (one page at 0.22: the rest is reader comments), a dropped body was at
# 0.06-0.17; about one page in twenty is retried.
RETRY_OPTIONS: dict[str, Any] = {**PRECISION_OPTIONS, "favor_precision": False, "fast": False}
RETRY_BELOW_SHARE = 0.2
RETRY_BELOW_CHARS = 500
RETRY_GAIN = 1.5
# Keep the time of day and offset when the page states them; original_date prefers the
# publication date to a "last updated" one.
DATE_PARAMS: dict[str, Any] = {
    "original_date": True,
    "extensive_search": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}

FULLTEXT_STATUSES = ("full", "teaser", "paywalled", "failed")


class ExtractError(NewsmonError):
    """Nothing usable came out of a page; `kind` says why (no-text, timeout, crashed, error)."""

    stage = "extract"

    def __init__(self, message: str, *, url: str, kind: str = "no-text") -> None:
        super().__init__(f"extract: {message} ({url})")
        self.message = message
        self.url = url
        self.kind = kind

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (self.message, self.url, self.kind))


def _rebuild_error(message: str, url: str, kind: str) -> ExtractError:
    return ExtractError(message, url=url, kind=kind)


def extract_article(body: bytes, *, url: str, content_type: str | None = None) -> Article:
    """Extract one page's main text and metadata; raise ExtractError if there is no text."""
    # Repair before extraction: it drops the soft hyphens and C1 controls mojibake is made of.
    tree = trafilatura.load_html(repair_mojibake(decode_html(body, content_type)))
    if tree is None:
        raise ExtractError("page is not parseable HTML", url=url)
    text, mode = main_text(tree, url=url)
    if not text.strip():
        raise ExtractError("no main text found", url=url)
    doc = page_metadata(tree, url=url)
    title = clean_title(doc.title)
    text = without_leading_title(repair_mojibake(text), title)
    if not text.strip():
        raise ExtractError("no main text found", url=url)
    return Article(
        url=url,
        canonical_url=url,
        title=title,
        text=text,
        author=clean_author(doc.author),
        published_at=page_date(doc.date, tree=tree, url=url),
        lang=page_language(tree),
        site_name=clean_text(doc.sitename, limit=MAX_NAME) or None,
        description=clean_summary(doc.description) or None,
        image_url=doc.image or None,
        categories=_labels(doc.categories),
        tags=_labels(doc.tags),
        page_canonical_url=page_canonical_url(tree, base_url=url),
        extraction_mode=mode,
    )


def main_text(tree: HtmlElement, *, url: str) -> tuple[str, str]:
    """The main text and the mode that produced it, "precision" or "balanced".

    See RETRY_OPTIONS for when the balanced cascade is tried. trafilatura works on a copy
    of the tree, so the caller's tree stays intact.
    """
    first = trafilatura.bare_extraction(tree, url=url, **PRECISION_OPTIONS)
    text = first.text or "" if first is not None else ""
    if is_short_for_page(text, tree):
        retry = trafilatura.bare_extraction(tree, url=url, **RETRY_OPTIONS)
        if retry is not None and len(retry.text or "") > RETRY_GAIN * len(text):
            return retry.text or "", "balanced"
    return text, "precision"


def page_metadata(tree: HtmlElement, *, url: str) -> Document:
    """What the page declares about itself: trafilatura's metadata steps, less two guesses.

    `trafilatura.extract_metadata` also guesses a byline from the page's markup and looks
    for a licence. The byline guess runs regex XPath over every element of a pruned copy
    of the page, about a third of a bare extraction, and on the shared corpora about half
    of its answers are not a clean name ("Username", "Admin", "Joe Wee Monday; February");
    newsmon keeps no licence. So the author is the one the page declares (meta tags,
    JSON-LD), else the feed's (ingest.cycle); the rest is in trafilatura's order.
    Measured in docs/decisions.md, "Speed and metadata".
    """
    doc = examine_meta(tree)
    if doc.author and " " not in doc.author:
        doc.author = None  # trafilatura's rule: a one-word meta author is a handle
    try:
        doc = extract_meta_json(tree, doc)
    except Exception as error:  # noqa: BLE001 - a page's broken JSON-LD costs its JSON-LD only
        log.debug("JSON-LD metadata unreadable on %s: %s", url, error)
    doc.title = doc.title or extract_title(tree)
    doc.url = doc.url or extract_url(tree, url)
    doc.date = htmldate.find_date(tree, url=doc.url, **DATE_PARAMS)
    doc.sitename = (doc.sitename or extract_sitename(tree) or "").lstrip("@") or None
    doc.categories = doc.categories or extract_catstags("category", tree)
    doc.tags = doc.tags or extract_catstags("tag", tree)
    doc.clean_and_trim()
    return doc


def is_short_for_page(text: str, tree: HtmlElement) -> bool:
    """Whether an extracted text is too short to be the article this page holds."""
    if len(text) < RETRY_BELOW_CHARS:
        return True
    return len(text) < RETRY_BELOW_SHARE * paragraph_chars(tree)


def paragraph_chars(tree: HtmlElement) -> int:
    """The length of the page's <p> text, whitespace squashed: what the page holds as prose."""
    return sum(len(" ".join(p.text_content().split())) for p in tree.iter("p"))


def without_leading_title(text: str, title: str) -> str:
    """The text without a first paragraph that only repeats the page title.

    trafilatura often keeps the <h1>; alert emails and search snippets show the title
    already, so a body that opens with it again reads as a stutter. Case, spacing and
    punctuation are ignored; a first paragraph that merely starts like the title stays.
    """
    first, _, rest = text.lstrip().partition("\n")
    if title and _comparable(first) == _comparable(title):
        return rest.lstrip()
    return text


def _comparable(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


def _labels(values: list[str] | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(label for v in values or () if (label := clean_text(v, limit=MAX_NAME))))


def page_date(value: str | None, *, tree: HtmlElement, url: str) -> datetime | None:
    """The page's publication date from htmldate's answer, without copyright-year guesses.

    With nothing better, htmldate's extensive search returns January 1st of the year in
    "© 2025" or of a lone year in the text; that is not when an article was published.
    Such an answer is kept only if the plain (non-extensive) search finds it too.
    """
    moment = parse_iso_datetime(value)
    if moment is not None and moment.utcoffset() == timedelta(0) and (
        (moment.month, moment.day, moment.time()) == (1, 1, time(0))
    ):
        plain = htmldate.find_date(tree, url=url, **{**DATE_PARAMS, "extensive_search": False})
        if parse_iso_datetime(plain) != moment:
            return None
    return moment


def page_language(tree: HtmlElement) -> str | None:
    """The language the page declares (<html lang>, Content-Language, og:locale), e.g. "es"."""
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    candidates += tree.xpath(
        '//head/meta[translate(@http-equiv, "CONTENTLAGU", "contentlagu")="content-language"]'
        '/@content | //head/meta[@property="og:locale"]/@content'
    )
    for value in candidates:
        match = re.match(r"\s*([A-Za-z]{2,3})(?:[-_]|\s*$)", value or "")
        if match:
            return match.group(1).lower()
    return None


def page_canonical_url(tree: HtmlElement, *, base_url: str) -> str | None:
    """The URL the page names as its own (<link rel=canonical>, then og:url), made absolute.

    One longer than MAX_URL is ignored: the page is then known by the URL it came from.
    """
    for href in tree.xpath(
        '//head/link[contains(concat(" ", normalize-space(@rel), " "), " canonical ")]/@href'
        ' | //head/meta[@property="og:url"]/@content'
    ):
        if href.strip():
            absolute = urljoin(base_url, href.strip())
            return absolute if len(absolute) <= MAX_URL else None
    return None
