"""Google News links without the network: every captured feed through the adapter, and the
pieces of Google's own lookup (article page signature, batchexecute request and answer)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from pipeline.ingest.judge import judge_entry
from pipeline.match import load_watchlist, match_article
from pipeline.models import FeedItem, Response, Source
from pipeline.sources.google_news import (
    NEEDS_LOOKUP,
    NO_PUBLISHER,
    ResolveError,
    batchexecute_form,
    decode_article_id,
    edition,
    opaque_id,
    page_signature,
    page_url,
    parse_batchexecute,
    parse_response,
)
from pipeline.text import MAX_URL
from pipeline.urls import is_aggregator

SEARCH = "https://news.google.com/rss/search?q=x&hl=en-GB&gl=GB&ceid=GB:en"
OLD_ID = ("CBMiLmh0dHBzOi8vd3d3LmJiYy5jb20vbmV3cy9hcnRpY2xlcy9jampqbnhkdjE4OG_SATJodHRwczovL3d3dy"
          "5iYmMuY29tL25ld3MvYXJ0aWNsZXMvY2pqam54ZHYxODhvLmFtcA")
NEW_ID = ("CBMiVkFVX3lxTE4zaGU2bTY2ZGkzdTRkSkJ0cFpsTGlDUjkxU2FBRURaTWU0c3QzVWZ1MHZZNkZ5Vzk1ZVBnTD"
          "FHY2R6ZmdCUkpUTUJsS1pqQTlCRzlzbHV3")
OILPRICE = "Crude Oil Prices Today | OilPrice.com"


def parse(body: bytes, url: str = SEARCH) -> list[FeedItem]:
    source = Source(name="gn", url=url, kind="google_news")
    return parse_response(source, Response(url=url, status=200, headers={}, body=body))


def answer(*rows: list) -> bytes:
    """A batchexecute answer in the plain form: the guard line, then one array of rows."""
    return (")]}'\n\n" + json.dumps(list(rows))).encode()


def garturlres(url: str) -> list:
    return ["wrb.fr", "Fbv4je", json.dumps(["garturlres", url, 1]), None, None, None, "generic"]


@pytest.fixture
def google_news_corpus(shared_corpus: Path) -> Path:
    folder = shared_corpus / "wire" / "google-news"
    if not folder.is_dir():
        pytest.skip("the wire corpus has no google-news captures")
    return folder


# -- the captured feeds ---------------------------------------------------------------------

def test_2012_redirect_links_all_resolve_offline_to_their_url_parameter(google_news_corpus):
    items = parse((google_news_corpus / "gn-topic-vladimir_putin-en-uk-2012-03-06.xml")
                  .read_bytes())
    assert len(items) == 10
    for item in items:
        assert urlsplit(item.link).path == "/news/url"
        assert parse_qs(urlsplit(item.link).query)["url"] == [item.url]
        assert item.unresolved is None and not is_aggregator(item.url)
    assert items[0].url.startswith("http://www.telegraph.co.uk/news/worldnews/vladimir-putin/")


@pytest.mark.parametrize("name, count", [
    ("gn-topstories-fr-BE-2020-03-08.xml", 1),
    ("gn-topstories-en-US-2022-07-28.rss.xml", 38),
    ("gn-topstories-en-US-2022-07-28.atom.xml", 38),
])
def test_2020_and_2022_article_ids_all_resolve_offline(google_news_corpus, name, count):
    items = parse((google_news_corpus / name).read_bytes(), url="https://news.google.com/rss")
    assert len(items) == count
    for item in items:
        assert "/__i/rss/rd/articles/CBMi" in item.link and item.link.endswith("?oc=5")
        assert item.unresolved is None and opaque_id(item.link) is None
        assert item.url.startswith(("http://", "https://")) and not is_aggregator(item.url)
    if name.endswith(".atom.xml"):  # an <id> that is an article id names the link's article
        ids = [i.guid.rsplit("/", 1)[1].split("?")[0] for i in items]
        pairs = [(decode_article_id(a), i.url) for a, i in zip(ids, items) if a.startswith("CBMi")]
        assert pairs and all(decoded == url for decoded, url in pairs)


def test_the_2022_feed_keeps_the_publisher_apart_from_the_headline(google_news_corpus):
    items = parse((google_news_corpus / "gn-topstories-en-US-2022-07-28.rss.xml").read_bytes())
    first = items[0]
    assert first.url == ("https://www.cnn.com/2022/07/27/politics/"
                         "schumer-manchin-deal-build-back-better/index.html")
    assert first.publisher == "CNN"
    assert first.title == ("In a major boost to Democrats, Manchin and Schumer announce deal "
                           "for energy and health care bill")


def test_2026_ids_are_all_opaque_and_left_for_google_to_resolve(google_news_corpus):
    body = (google_news_corpus / "gn-search-en-GB-brent-crude-2026-08-05.xml").read_bytes()
    items = parse(body)
    assert len(items) == 6
    for item in items:
        assert urlsplit(item.url).hostname == "news.google.com" and item.link is None
        assert item.unresolved == NEEDS_LOOKUP
        assert opaque_id(item.url) == item.guid  # the guid is the bare id
        assert not item.title.endswith(f" - {item.publisher}")
    assert [i.publisher for i in items] == [OILPRICE] * 4 + ["BBC", "NBC News"]
    assert items[0].title == "Middle East War Triggers New Global Refining Boom"
    # the exact suffix went, nothing else: the raw feed holds title + " - " + <source>
    assert f"<title>{items[0].title} - {OILPRICE}</title>".encode() in body


# -- titles and links in a feed --------------------------------------------------------------

def feed(*entries: tuple[str, str, str]) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>{link}</link>"
        f'<description>&lt;a href="{link}"&gt;x&lt;/a&gt;</description>'
        f'<source url="https://p.example">{publisher}</source></item>'
        for title, link, publisher in entries)
    return f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def test_only_the_exact_publisher_suffix_is_stripped():
    items = parse(feed(
        ("Oil - the week ahead - Reuters", f"https://news.google.com/rss/articles/{OLD_ID}",
         "Reuters"),
        ("Brent slips - analysts", f"https://news.google.com/rss/articles/{NEW_ID}", "Reuters"),
        (" - Reuters", "https://news.google.com/rss/articles/not-base64", "Reuters"),
    ))
    assert [i.title for i in items] == ["Oil - the week ahead", "Brent slips - analysts",
                                        "- Reuters"]


def test_each_link_kind_says_whether_and_why_it_is_unresolved():
    old, new, junk = parse(feed(
        ("a", f"https://news.google.com/rss/articles/{OLD_ID}?oc=5", "BBC"),
        ("b", f"https://news.google.com/rss/articles/{NEW_ID}?oc=5", "BBC"),
        ("c", "https://news.google.com/rss/articles/not-base64?oc=5", "BBC"),
    ))
    assert (old.url, old.unresolved) == ("https://www.bbc.com/news/articles/cjjjnxdv188o", None)
    assert old.link == f"https://news.google.com/rss/articles/{OLD_ID}?oc=5"
    assert (new.unresolved, new.link, opaque_id(new.url)) == (NEEDS_LOOKUP, None, NEW_ID)
    assert (junk.unresolved, opaque_id(junk.url)) == (NO_PUBLISHER, None)


@pytest.mark.parametrize("link, expected", [
    (f"https://news.google.com/rss/articles/{NEW_ID}?oc=5", NEW_ID),
    (f"https://news.google.com/articles/{NEW_ID}", NEW_ID),
    (f"https://news.google.com/__i/rss/rd/articles/{NEW_ID}?oc=5", NEW_ID),
    (f"https://news.google.com/rss/articles/{OLD_ID}?oc=5", None),  # embeds its URL
    (f"https://elsewhere.example/rss/articles/{NEW_ID}", None),  # not Google's
    ("https://news.google.com/rss/articles/%%%", None),
    ("http://[::1/rss/articles/x", None),  # not a URL at all
])
def test_opaque_id_finds_only_the_ids_google_must_resolve(link, expected):
    assert opaque_id(link) == expected


# -- the article page ---------------------------------------------------------------------

def test_the_signature_and_timestamp_come_from_the_page():
    page = (b'<!doctype html><html><body><c-wiz jsrenderer="x"><div jscontroller="aLI87" '
            b'data-n-a-id="CBMi" data-n-a-sg="AZ5r3eQ-sig" data-n-a-ts="1754380800">'
            b"</div></c-wiz><p>Opening Google News</p></body></html>")
    assert page_signature(page) == (1754380800, "AZ5r3eQ-sig")
    # any element carrying both will do
    assert page_signature(b'<p data-n-a-ts=" 7 " data-n-a-sg="s"></p>') == (7, "s")


@pytest.mark.parametrize("page", [
    (b"<html><body><form action='https://consent.google.com/save'>Before you continue"
     b"</form></body></html>"),
    b'<div data-n-a-sg="s" data-n-a-ts="soon"></div>',  # a timestamp that is no number
    b'<div data-n-a-sg="" data-n-a-ts="7"></div>',
    b"",
])
def test_a_page_without_a_usable_signature_is_a_resolve_error(page):
    with pytest.raises(ResolveError, match=r"^resolve: the Google News article page"):
        page_signature(page)


def test_the_page_is_asked_for_in_the_feeds_edition():
    assert edition(SEARCH) == {"hl": "en-GB", "gl": "GB", "ceid": "GB:en"}
    assert edition("https://news.google.com/rss/articles/x?oc=5") == {}
    assert page_url("http://127.0.0.3:81/", NEW_ID, edition(SEARCH)) == (
        f"http://127.0.0.3:81/rss/articles/{NEW_ID}?" + urlencode(edition(SEARCH)))
    assert page_url("https://news.google.com", NEW_ID) == (
        f"https://news.google.com/rss/articles/{NEW_ID}")


# -- batchexecute ----------------------------------------------------------------------------

def test_the_request_is_the_documented_garturlreq_envelope():
    form = batchexecute_form(NEW_ID, 1754380800, "AZ5r3eQ-sig")
    assert list(form) == ["f.req"]
    [[[rpc, inner, none, tag]]] = json.loads(form["f.req"])
    assert (rpc, none, tag) == ("Fbv4je", None, "generic")
    request = json.loads(inner)
    assert request[0] == "garturlreq"
    assert request[2:] == [NEW_ID, 1754380800, "AZ5r3eQ-sig"]  # the timestamp as a number
    context = request[1]
    assert context[0][7] == "US:en" and context[1:4] == ["X", "X", 1]


@pytest.mark.parametrize("body", [
    answer(garturlres("https://www.bbc.com/news/articles/c1"), ["di", 42],
           ["af.httprm", 41, "-6", 1]),
    # the chunked form: each array after its length
    (")]}'\n\n120\n" + json.dumps([garturlres("https://www.bbc.com/news/articles/c1")])
     + "\n25\n" + json.dumps([["di", 42], ["e", 4, None, None, 181]]) + "\n").encode(),
    # a control character in the URL is hostile text, not part of it
    answer(garturlres("https://www.bbc.com/news/articles/c1\u0000")),
])
def test_the_answer_gives_the_publisher_url(body):
    assert parse_batchexecute(body) == "https://www.bbc.com/news/articles/c1"


@pytest.mark.parametrize("body, message", [
    (answer(["wrb.fr", "Fbv4je", None, None, None, [3], "generic"], ["di", 10]),
     "gave no URL for the id (status [3])"),
    (answer(["di", 10]), "has no Fbv4je row"),
    (answer(["wrb.fr", "Fbv4je", '["garturlres"]', None]), "not a garturlres"),
    (answer(["wrb.fr", "Fbv4je", "not json", None]), "not a garturlres"),
    (b"<html>Sorry...</html>", "does not start with"),
    (b")]}'\n\n[[\"wrb.fr\", ", "is not JSON"),
    (answer(garturlres("https://news.google.com/rss/articles/x")), "not a publisher URL"),
    (answer(garturlres("javascript:alert(1)")), "not a publisher URL"),
    (answer(garturlres("https://p.example/" + "a" * MAX_URL)), "not a publisher URL"),
])
def test_an_answer_without_a_publisher_url_is_a_resolve_error(body, message):
    with pytest.raises(ResolveError, match="^resolve: ") as caught:
        parse_batchexecute(body)
    assert message in str(caught.value)


def test_a_deeply_nested_answer_is_refused_not_a_crash():
    with pytest.raises(ResolveError, match="not JSON"):
        parse_batchexecute(b")]}'\n" + b"[" * 100_000)


# -- judged on the entry alone ----------------------------------------------------------------

def test_an_unresolved_entry_is_judged_on_its_title_summary_and_publisher():
    watchlist = load_watchlist("venezuela")
    relevant = FeedItem(url=f"https://news.google.com/rss/articles/{NEW_ID}",
                        title="Police arrest suspected Tren de Aragua members",
                        summary="Police arrest suspected Tren de Aragua members Caribbean Wire",
                        publisher="Caribbean Wire", language="en")
    oil = FeedItem(url=f"https://news.google.com/rss/articles/{NEW_ID}",
                   title="Brent crude rises on supply fears",
                   summary="Brent crude rises on supply fears", publisher=OILPRICE)
    verdict = judge_entry(relevant, watchlist)
    assert verdict.relevant and {e.id for e in verdict.evidence} == {"tren_de_aragua"}
    assert verdict == match_article(watchlist, title=relevant.title, text=relevant.summary,
                                    lang="en")  # the publisher, named already, counts once
    assert not judge_entry(oil, watchlist).relevant


def test_aggregator_sites_are_recognised_by_site_not_by_substring():
    assert is_aggregator("https://news.google.com/rss/articles/x")
    assert is_aggregator("https://consent.google.com/ml?continue=x")
    assert is_aggregator("http://www.bing.com/news/apiclick.aspx?url=x")
    assert not is_aggregator("https://9to5google.com/2022/07/26/pixel-7/")
    assert not is_aggregator("https://www.bbc.com/news")


def test_opaque_ids_built_like_googles_are_recognised():
    token = b"AU_yqLtest-token"
    built = base64.urlsafe_b64encode(b"\x08\x13\x22" + bytes([len(token)]) + token)
    article_id = built.decode().rstrip("=")
    assert opaque_id(f"https://news.google.com/rss/articles/{article_id}?oc=5") == article_id
    assert decode_article_id(article_id) is None
