"""Google News search RSS: a query in a language and region, links turned into publisher URLs.

A source is either a full search URL (`https://news.google.com/rss/search?q=...&hl=...`) or
the search URL plus params `query`, `hl` (e.g. "es-419"), `gl` (e.g. "VE") and optionally
`ceid` (default "<gl>:<hl>", with hl's region dropped unless numeric: "US:en", "VE:es-419").

Entry links point at news.google.com, not at the article. They are resolved offline,
in this order: a `url=` parameter (old redirect links); the article id, when it is the
older base64 protobuf that embeds the publisher URL ("CBMi..." decoding to an
"http..." string); an <a href> to another site in the description. What cannot be
resolved offline: the article ids Google has issued since mid-2024 ("CBMi..." decoding to
an opaque "AU_yqL..." token), which only Google's own `batchexecute` endpoint maps to the
publisher URL. Those entries keep their news.google.com link, and the page fetch then
meets Google's consent/JS interstitial rather than the article.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import feedparser
import httpx
import lxml.html
from lxml import etree

from pipeline.models import FeedItem, Response, Source
from pipeline.sources import rss
from pipeline.text import clean_summary, clean_title, strip_controls

SEARCH_URL = "https://news.google.com/rss/search"
_GOOGLE_HOSTS = ("news.google.com", "google.com", "www.google.com")
_ARTICLE_ID = re.compile(r"/(?:rss/)?(?:articles|read)/([A-Za-z0-9_-]+)")
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_PROTOBUF_URL_FIELD = b"\x08\x13\x22"  # field 1 = 19, then field 4 (length-delimited)


def request_url(source: Source) -> str:
    params = source.params
    url = httpx.URL(source.url or SEARCH_URL)
    query = params.get("query")
    if not query and not url.params.get("q"):
        raise ValueError("google_news: needs params.query or a q= search URL")
    extra: dict[str, str] = {}
    if query:
        extra["q"] = str(query)
    hl = params.get("hl") or url.params.get("hl") or source.language
    gl = params.get("gl") or url.params.get("gl")
    if hl:
        extra["hl"] = str(hl)
    if gl:
        extra["gl"] = str(gl).upper()
    ceid = params.get("ceid") or url.params.get("ceid")
    if not ceid and hl and gl:
        ceid = f"{str(gl).upper()}:{_ceid_language(str(hl))}"
    if ceid:
        extra["ceid"] = str(ceid)
    return str(url.copy_merge_params(extra))


def parse_response(source: Source, response: Response) -> list[FeedItem]:
    parsed = rss.parse_document(response.body, base_url=response.url, headers=response.headers)
    return rss.feed_items(parsed, base_url=response.url, language=source.language,
                          adjust=_resolved)


def _resolved(entry: feedparser.FeedParserDict, item: FeedItem) -> FeedItem:
    description = str(entry.get("summary", ""))
    return replace(
        item,
        url=strip_controls(publisher_url(item.url, description=description) or item.url),
        title=_without_publisher(item.title, clean_title(_publisher(entry))),
        summary=clean_summary(_plain_text(description)),
    )


def publisher_url(link: str, *, description: str = "") -> str | None:
    """The article's own URL behind a Google News link, or None if it needs Google to tell."""
    parts = urlsplit(link)
    if not _is_google(parts.hostname):
        return link
    for value in parse_qs(parts.query).get("url", []):
        if value.startswith(("http://", "https://")):
            return value
    match = _ARTICLE_ID.search(parts.path)
    if match:
        decoded = decode_article_id(match.group(1))
        if decoded:
            return decoded
    for href in _HREF.findall(description):
        href = href.replace("&amp;", "&")
        if href.startswith(("http://", "https://")) and not _is_google(urlsplit(href).hostname):
            return href
    return None


def decode_article_id(article_id: str) -> str | None:
    """The publisher URL inside an older article id; None for the newer opaque ids."""
    try:
        raw = base64.urlsafe_b64decode(article_id + "=" * (-len(article_id) % 4))
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_PROTOBUF_URL_FIELD):
        return None
    length, start = _varint(raw, len(_PROTOBUF_URL_FIELD))
    if length is None:
        return None
    url = raw[start : start + length].decode("utf-8", errors="replace")
    return url if url.startswith(("http://", "https://")) else None


def _varint(data: bytes, pos: int) -> tuple[int | None, int]:
    value = shift = 0
    while pos < len(data) and shift < 35:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None, pos


def _is_google(host: str | None) -> bool:
    return bool(host) and (host in _GOOGLE_HOSTS or host.endswith(".google.com"))


def _publisher(entry: feedparser.FeedParserDict) -> str:
    source = entry.get("source") or {}
    return " ".join(str(source.get("title", "")).split())


def _without_publisher(title: str, publisher: str) -> str:
    """Google appends " - Publisher" to every headline; the article's own title has none."""
    suffix = f" - {publisher}"
    if publisher and title.endswith(suffix) and len(title) > len(suffix):
        return title[: -len(suffix)].rstrip()
    return title


def _plain_text(html: str) -> str:
    if "<" not in html:
        return " ".join(html.split())
    try:
        text = lxml.html.fragment_fromstring(html, create_parent="div").text_content()
    except (ValueError, etree.ParserError):
        return ""
    return " ".join(text.replace("\xa0", " ").split())


def _ceid_language(hl: str) -> str:
    language, _, region = hl.partition("-")
    return hl if region.isdigit() else language
