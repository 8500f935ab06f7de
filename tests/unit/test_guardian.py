"""The Guardian content API adapter: the request, the key, results with their full text."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.config import load_settings
from pipeline.models import Response, Source
from pipeline.sources import (
    FeedParseError,
    SourceSkipped,
    parse_items,
    request_headers,
    request_url,
    source_problem,
)
from pipeline.sources.errors import SourceMisconfigured, SourceRateLimited
from pipeline.sources.guardian import explain_error

API = "https://content.guardianapis.com/search"

BODY = ("Police in three states said on Monday that they had arrested eleven people.\n"
        "Officers seized weapons, phones and ledgers during the raids.\n\n"
        "Prosecutors said more arrests were expected.")


def guardian(**params: object) -> Source:
    return Source(name="guardian", url=API, kind="guardian", language="en",
                  params={"query": "Venezuela", **params})


def result(slug: str, *, type_: str = "article", **fields: object) -> dict:
    return {
        "id": f"world/2026/nov/24/{slug}", "type": type_, "sectionId": "world",
        "sectionName": "World news", "webPublicationDate": "2026-11-24T09:30:00Z",
        "webTitle": f"Web title of {slug}",
        "webUrl": f"https://www.theguardian.com/world/2026/nov/24/{slug}",
        "apiUrl": f"https://content.guardianapis.com/world/2026/nov/24/{slug}",
        "isHosted": False, "pillarId": "pillar/news", "pillarName": "News",
        "fields": {"headline": f"Headline of {slug}", "trailText": "<p>A <strong>short</strong> "
                   "standfirst</p>", "byline": "Tom Phillips in Caracas",
                   "bodyText": BODY, "lastModified": "2026-11-24T11:00:00Z", **fields},
    }


def answer(*results: object, **response: object) -> bytes:
    return json.dumps({"response": {"status": "ok", "userTier": "developer", "total": 2,
                                    "startIndex": 1, "pageSize": 50, "currentPage": 1,
                                    "pages": 1, "orderBy": "newest", "results": list(results),
                                    **response}}).encode()


def parse(body: bytes, status: int = 200, source: Source | None = None):
    return parse_items(source or guardian(),
                       Response(url=API, status=status,
                                headers={"content-type": "application/json"}, body=body))


def test_an_article_carries_its_full_text_and_metadata() -> None:
    [item] = parse(answer(result("venezuela-arrests")))
    assert item.url == "https://www.theguardian.com/world/2026/nov/24/venezuela-arrests"
    assert item.guid == "world/2026/nov/24/venezuela-arrests"
    assert item.title == "Headline of venezuela-arrests"
    assert item.summary == "A short standfirst"
    assert item.author == "Tom Phillips in Caracas"
    assert item.published_at == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert item.updated_at == datetime(2026, 11, 24, 11, tzinfo=UTC)
    assert item.language == "en"
    assert item.body == BODY.replace("\n\n", "\n")  # paragraphs apart, blank lines dropped


def test_only_articles_are_kept() -> None:
    items = parse(answer(result("a"), result("live", type_="liveblog"),
                         result("quiz", type_="interactive"), result("pics", type_="gallery"),
                         {"type": "article"}, "not an object", result("b")))
    assert [i.guid for i in items] == ["world/2026/nov/24/a", "world/2026/nov/24/b"]


def test_missing_fields_fall_back_or_stay_empty() -> None:
    bare = result("bare")
    bare["fields"] = {"bodyText": ""}
    odd = result("odd", headline=["not", "text"], bodyText={"not": "text"})
    [first, second] = parse(answer(bare, odd))
    assert (first.title, first.summary, first.author, first.body) == (
        "Web title of bare", "", None, None)  # no body: the cycle fetches the page instead
    assert (second.title, second.body) == ("Web title of odd", None)


def test_hostile_text_is_cleaned() -> None:
    hostile = result("x", headline="Maduro\x00 \u202ehabla\r\nBcc: a@b", byline="<b>A\x07B</b>",
                     bodyText="First\x00 line\u2028Second \u202eline\r\nThird <script>x</script>")
    [item] = parse(answer(hostile))
    assert item.title == "Maduro habla Bcc: a@b"
    assert item.author == "A B"
    assert item.body == "First line\nSecond line\nThird"


def test_dates_that_cannot_be_used_are_flagged() -> None:
    bad = result("bad", lastModified="yesterday")
    bad["webPublicationDate"] = "24/11/2026"
    [item] = parse(answer(bad))
    assert item.date_flags == ("feed-date-unparseable",)
    assert item.updated_at is None


@pytest.mark.parametrize("body, status, kind, expected", [
    (json.dumps({"response": {"status": "error", "message": "The page-size must be between 0 "
                                                            "and 200"}}).encode(),
     200, FeedParseError, "parse: Guardian API error: The page-size must be between 0 and 200"),
    (b'{"message":"Invalid authentication credentials"}', 401, SourceMisconfigured,
     ("guardian: API key refused (check NEWSMON_GUARDIAN_KEY): "
      "Invalid authentication credentials")),
    (b'{"message":"API rate limit exceeded"}', 429, SourceRateLimited,
     ("guardian: rate limited (the key's quota is spent until its next "
      "period): API rate limit exceeded")),
    (b'{"response": {"status": "error", "message": "bad\\r\\nX-Injected: 1\\u0000"}}', 200,
     FeedParseError, "parse: Guardian API error: bad X-Injected: 1"),
])
def test_service_errors_say_what_the_service_said(body, status, kind, expected) -> None:
    with pytest.raises(kind) as raised:
        parse(body, status=status)
    assert str(raised.value) == expected


def test_a_refused_key_or_spent_quota_is_explained_from_the_error_answer() -> None:
    source = guardian()
    refused = Response(url=API, status=401, headers={},
                       body=b'{"message":"Invalid authentication credentials"}')
    assert isinstance(explain_error(source, refused), SourceMisconfigured)
    spent = Response(url=API, status=429, headers={"retry-after": "120"},
                     body=b'{"message":"API rate limit exceeded"}')
    error = explain_error(source, spent)
    assert isinstance(error, SourceRateLimited) and error.retry_after_s == 120
    unknown = Response(url=API, status=502, headers={}, body=b"<html>bad gateway</html>")
    assert explain_error(source, unknown) is None  # the HTTP status stands


@pytest.mark.parametrize("body", [b"<html>Gateway timeout</html>", b"[1, 2]",
                                  b'{"response": {"status": "ok", "results": {}}}'])
def test_bodies_that_are_not_an_answer_fail_the_parse(body) -> None:
    with pytest.raises(FeedParseError, match="parse: the Guardian API"):
        parse(body)


def test_an_empty_answer_is_no_items() -> None:
    assert parse(answer()) == []


def test_the_request_asks_for_the_full_text_of_the_newest_articles() -> None:
    url = request_url(guardian(section="world"))
    assert url == (f"{API}?q=Venezuela&show-fields=bodyText%2Cbyline%2Cheadline%2CtrailText"
                   "%2ClastModified&order-by=newest&page-size=50&lang=en&section=world")
    # exported (OPML) without params, the URL polls the same query
    assert request_url(Source(name="s", url=url, kind="guardian")) == url


def test_a_key_in_the_url_is_refused_without_repeating_it() -> None:
    source = Source(name="g", url=f"{API}?api-key=s3cret-key", kind="guardian",
                    params={"query": "Venezuela"})
    problem = source_problem(source)
    assert problem is not None and "NEWSMON_GUARDIAN_KEY" in problem
    assert "s3cret-key" not in problem


def test_the_key_travels_in_a_header_and_its_absence_skips_the_source(tmp_path) -> None:
    settings = load_settings(env={"NEWSMON_HOME": str(tmp_path),
                                  "NEWSMON_GUARDIAN_KEY": "k-123"})
    assert request_headers(guardian(), settings) == {"api-key": "k-123"}
    with pytest.raises(SourceSkipped, match="NEWSMON_GUARDIAN_KEY"):
        request_headers(guardian(), settings.replace(guardian_key=None))
    assert source_problem(Source(name="g", url=API, kind="guardian")) == (
        "is incomplete: guardian: needs params.query")
