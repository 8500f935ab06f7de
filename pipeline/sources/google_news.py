"""Google News search RSS: a query in a language and region, links turned into publisher URLs.

A source is either a full search URL (`https://news.google.com/rss/search?q=...&hl=...`) or
the search URL plus params `query`, `hl` (e.g. "es-419"), `gl` (e.g. "VE") and optionally
`ceid` (default "<gl>:<hl>", with hl's region dropped unless numeric: "US:en", "VE:es-419").

Entry links point at news.google.com, not at the article. They are resolved offline,
in this order: a `url=` parameter (old redirect links); the article id, when it is the
older base64 protobuf that embeds the publisher URL ("CBMi..." decoding to an
"http..." string); an <a href> to another site in the description. Every link so resolved
keeps the feed's own link in `FeedItem.link`.

What cannot be resolved offline: the article ids Google has issued since mid-2024 ("CBMi..."
decoding to an opaque "AU_yqL..." token, `opaque_id`). Those entries leave the adapter with
`unresolved` set and Google's link as their url, and the cycle asks Google the way Google's
own article page does (`resolve_ids`, two requests per id):

1. GET `<base>/rss/articles/<id>?hl=&gl=&ceid=` (`/articles/<id>` sends clients that are not
   browsers to a "sorry" page): an HTML page one element of which carries `data-n-a-sg`
   (a signature) and `data-n-a-ts` (a timestamp) for the id (`page_signature`).
2. POST `<base>/_/DotsSplashUi/data/batchexecute`, form field `f.req` holding the
   `Fbv4je` call with a `garturlreq` of id, timestamp and signature (`batchexecute_form`).
   The answer is `)]}'` and then JSON rows; the `["wrb.fr", "Fbv4je", "<payload>", ...]`
   row's payload is `["garturlres", "<publisher URL>", ...]` (`parse_batchexecute`).

An entry whose publisher URL stays unknown is never fetched: Google's article page is a
consent/JS interstitial, not the article.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import feedparser
import httpx
import lxml.html
from lxml import etree

from pipeline.errors import NewsmonError
from pipeline.http import FetchError
from pipeline.models import FeedItem, Response, Source, record
from pipeline.sources import rss
from pipeline.sources.fields import title_without_publisher
from pipeline.text import MAX_URL, clean_summary, clean_title, strip_controls
from pipeline.urls import is_aggregator

if TYPE_CHECKING:
    from pipeline.http import HttpClient

SEARCH_URL = "https://news.google.com/rss/search"
BATCHEXECUTE_PATH = "/_/DotsSplashUi/data/batchexecute"
_GOOGLE_HOSTS = ("news.google.com", "google.com", "www.google.com")
_ARTICLE_ID = re.compile(r"/(?:rss/)?(?:articles|read)/([A-Za-z0-9_-]+)")
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_PROTOBUF_URL_FIELD = b"\x08\x13\x22"  # field 1 = 19, then field 4 (length-delimited)
_OPAQUE_TOKEN = b"AU_yqL"  # what field 4 holds in the ids issued since mid-2024
_EDITION_PARAMS = ("hl", "gl", "ceid")
_RPC_ID = "Fbv4je"  # the batchexecute call that maps an article id to its URL
# The client context a garturlreq carries, in the shape Google's article page sends it;
# only the id, timestamp and signature after it differ from one lookup to the next.
_CLIENT_CONTEXT: list[Any] = [
    ["X", "X", ["X", "X"], None, None, 1, 1, "US:en", None, 1, None, None, None, None, None,
     0, 1],
    "X", "X", 1, [1, 1, 1], 1, 1, None, 0, 0, None, 0,
]

NEEDS_LOOKUP = "resolve: the link's article id is opaque; only Google can tell its publisher URL"
NO_PUBLISHER = "resolve: the link holds no publisher URL and no article id Google could resolve"


class ResolveError(NewsmonError, ValueError):
    """Google did not tell an article id's publisher URL (a page or an answer we cannot read)."""

    stage = "resolve"


@record
class Lookup:
    """What asking Google about one article id gave."""

    url: str | None = None  # the publisher URL
    reason: str | None = None  # why there is none
    asked: bool = True  # False: not asked at all this time (Google asked us to back off)
    # Set on the lookup that found Google unreachable or busy: why to ask nothing more now.
    halt: str | None = None


# -- the feed ------------------------------------------------------------------------------

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
    publisher = clean_title(_publisher(entry))
    link = item.url
    found = publisher_url(link, description=description)
    if found is not None:
        found = strip_controls(found)
    return replace(
        item,
        url=found or link,
        link=link if found and found != link else None,
        unresolved=None if found else (NEEDS_LOOKUP if opaque_id(link) else NO_PUBLISHER),
        title=title_without_publisher(item.title, publisher),
        summary=clean_summary(_plain_text(description)),
        publisher=publisher or None,
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
    payload = _id_payload(article_id)
    if payload is None:
        return None
    url = payload.decode("utf-8", errors="replace")
    return url if url.startswith(("http://", "https://")) else None


def opaque_id(link: str) -> str | None:
    """The article id of a Google News link whose id is an opaque token (not a URL): the
    ids only Google can resolve. None for every other link."""
    try:
        parts = urlsplit(link)
        host = parts.hostname
    except ValueError:
        return None
    match = _ARTICLE_ID.search(parts.path) if _is_google(host) else None
    if match is None:
        return None
    payload = _id_payload(match.group(1))
    return match.group(1) if payload and payload.startswith(_OPAQUE_TOKEN) else None


def _id_payload(article_id: str) -> bytes | None:
    """Field 4 of an article id's protobuf: a URL (older ids) or an opaque token."""
    try:
        raw = base64.urlsafe_b64decode(article_id + "=" * (-len(article_id) % 4))
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_PROTOBUF_URL_FIELD):
        return None
    length, start = _varint(raw, len(_PROTOBUF_URL_FIELD))
    if length is None:
        return None
    return raw[start : start + length]


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


# -- asking Google: the pure parts -----------------------------------------------------------

def edition(url: str) -> dict[str, str]:
    """The hl, gl and ceid of a Google News URL (the feed's): the article page is asked for
    in the same edition."""
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return {}
    return {name: query[name][0] for name in _EDITION_PARAMS if query.get(name)}


def page_url(base_url: str, article_id: str, edition: dict[str, str] | None = None) -> str:
    """The article page that carries the id's signature and timestamp."""
    page = f"{base_url.rstrip('/')}/rss/articles/{article_id}"
    return f"{page}?{urlencode(edition)}" if edition else page


def page_signature(body: bytes) -> tuple[int, str]:
    """(timestamp, signature) from an article page's `data-n-a-ts` and `data-n-a-sg`."""
    try:
        root = lxml.html.fromstring(body)
        carriers = root.xpath("//*[@data-n-a-sg and @data-n-a-ts]")
    except (ValueError, etree.ParserError) as exc:
        raise ResolveError(f"resolve: the Google News article page is not HTML: {exc}") from None
    for element in carriers:
        signature = element.get("data-n-a-sg", "").strip()
        timestamp = element.get("data-n-a-ts", "").strip()
        if signature and timestamp.isascii() and timestamp.isdigit():
            return int(timestamp), signature
    raise ResolveError("resolve: the Google News article page carries no data-n-a-sg and "
                       "data-n-a-ts (a consent or error page?)")


def batchexecute_form(article_id: str, timestamp: int, signature: str) -> dict[str, str]:
    """The form to POST to batchexecute for one id: `f.req`, the Fbv4je call's envelope."""
    request = ["garturlreq", _CLIENT_CONTEXT, article_id, timestamp, signature]
    envelope = [[[_RPC_ID, _compact(request), None, "generic"]]]
    return {"f.req": _compact(envelope)}


def parse_batchexecute(body: bytes) -> str:
    """The publisher URL in a batchexecute answer to `batchexecute_form`."""
    text = body.decode("utf-8", errors="replace").lstrip()
    if not text.startswith(")]}'"):
        raise ResolveError("resolve: the batchexecute answer does not start with )]}'")
    for row in _rows(text[4:]):
        if len(row) < 3 or row[:2] != ["wrb.fr", _RPC_ID]:
            continue
        if not isinstance(row[2], str):  # Google's error rows carry a status code instead
            status = next((cell for cell in row[3:] if isinstance(cell, list)), None)
            raise ResolveError(f"resolve: batchexecute gave no URL for the id (status {status})")
        try:
            payload = json.loads(row[2])
        except (ValueError, RecursionError):
            payload = None
        if (isinstance(payload, list) and len(payload) > 1 and payload[0] == "garturlres"
                and isinstance(payload[1], str)):
            return _publisher_link(payload[1])
        raise ResolveError(f"resolve: batchexecute answered {row[2][:200]!r}, not a garturlres")
    raise ResolveError(f"resolve: the batchexecute answer has no {_RPC_ID} row")


def _rows(text: str) -> Iterator[list[Any]]:
    """Every row of a batchexecute answer: one JSON array of rows, or several, each after
    its length (the chunked form)."""
    decoder = json.JSONDecoder()
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return
        try:
            value, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            raise ResolveError(f"resolve: the batchexecute answer is not JSON: {exc}") from None
        if isinstance(value, list):  # a chunk's length is a bare number
            yield from (row for row in value if isinstance(row, list))


def _publisher_link(url: str) -> str:
    """The URL Google answered, if it can be an article's: http(s), not Google's own, and
    not longer than any link newsmon keeps."""
    link = strip_controls(url).strip()
    try:
        parts = urlsplit(link)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        usable = False
    if not usable or is_aggregator(link) or len(link) > MAX_URL:
        raise ResolveError(f"resolve: batchexecute answered {link[:200]!r}, not a publisher URL")
    return link


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# -- asking Google: the requests -------------------------------------------------------------

async def resolve_ids(client: HttpClient, ids: Sequence[str], *, base_url: str,
                      edition: dict[str, str] | None = None) -> dict[str, Lookup]:
    """Ask Google for each id's publisher URL, one id after another, through `client` (its
    guard, caps, retries and the pace it keeps for Google's host).

    An id Google has no answer for fails alone. Once Google is unreachable or asks us to
    back off (a timeout, a refused connection, 429 or 5xx after the client's retries), the
    ids left are not asked this time (`Lookup.asked` False).
    """
    found: dict[str, Lookup] = {}
    backed_off: str | None = None
    for article_id in ids:
        if backed_off:
            found[article_id] = Lookup(reason=backed_off, asked=False)
            continue
        try:
            url = await resolve_id(client, article_id, base_url=base_url, edition=edition)
        except ResolveError as exc:
            found[article_id] = Lookup(reason=str(exc))
        except FetchError as exc:
            if exc.retryable:
                backed_off = (f"resolve: not asked: Google News failed an earlier lookup "
                              f"({exc.message})")
            found[article_id] = Lookup(reason=f"resolve: {exc}", halt=backed_off)
        else:
            found[article_id] = Lookup(url=url)
    return found


async def resolve_id(client: HttpClient, article_id: str, *, base_url: str,
                     edition: dict[str, str] | None = None) -> str:
    """One id's publisher URL: its article page, then one batchexecute call."""
    page = await client.fetch(page_url(base_url, article_id, edition))
    timestamp, signature = page_signature(page.body)
    answer = await client.post_form(base_url.rstrip("/") + BATCHEXECUTE_PATH,
                                    batchexecute_form(article_id, timestamp, signature))
    return parse_batchexecute(answer.body)
