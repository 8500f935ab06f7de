"""Services' own errors and fields (GDELT, NewsAPI): bytes in, errors and FeedItems out,
and what the schedule does after each error."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.http import FetchError
from pipeline.http.errors import ERROR_BODY_MAX
from pipeline.ingest.poll import (
    PollResult,
    SchedulePolicy,
    error_class,
    explain_fetch_error,
    next_health,
)
from pipeline.models import FeedItem, Response, Source
from pipeline.sources import gdelt, newsapi
from pipeline.sources.errors import FeedParseError, SourceMisconfigured, SourceRateLimited
from pipeline.sources.gdelt_names import LANGUAGES, country_code, language_code
from pipeline.store.sources import SourceHealth
from pipeline.text import clean_summary

GDELT = Source(name="gdelt tren", url=gdelt.API_URL, kind="gdelt", language="es",
               params={"query": '"Tren de Aragua"'})
NEWSAPI = Source(name="newsapi maduro", url=newsapi.API_URL, kind="newsapi",
                 params={"query": "Maduro"})
KEYWORD_ERROR = ("One or more of your keywords were too short, too long or too common: "
                 "(locationcc:br)")


def answer(body: bytes | str, status: int = 200, **headers: str) -> Response:
    raw = body.encode() if isinstance(body, str) else body
    return Response(url="https://api.example/doc", status=status, headers=headers, body=raw)


def wire(shared_corpus: Path, name: str) -> bytes:
    return (shared_corpus / "wire" / name).read_bytes()


# -- GDELT: its plain-text answers ----------------------------------------------------------

def test_gdelt_keyword_error_from_the_corpus_is_a_rejected_query(shared_corpus) -> None:
    body = wire(shared_corpus, "gdelt/gdelt-doc-keyword-error.txt")
    with pytest.raises(SourceMisconfigured) as caught:
        gdelt.parse_response(GDELT, answer(body))
    assert str(caught.value) == f"gdelt: query rejected: {KEYWORD_ERROR}"
    assert caught.value.status == 200 and error_class(caught.value) == "misconfigured"


def test_gdelt_throttle_notice_from_the_corpus_is_a_rate_limit_of_five_seconds(
    shared_corpus,
) -> None:
    body = wire(shared_corpus, "gdelt/gdelt-doc-rate-limited.txt")
    with pytest.raises(SourceRateLimited) as caught:
        gdelt.parse_response(GDELT, answer(body))
    assert caught.value.retry_after_s == 5.0 and error_class(caught.value) == "rate-limited"
    assert str(caught.value).startswith(
        "gdelt: rate limited: Please limit requests to one every 5 seconds")
    assert "ngrams" not in str(caught.value)  # the advertising after the first sentence


def test_gdelt_throttle_with_429_prefers_retry_after_and_needs_no_words(shared_corpus) -> None:
    body = wire(shared_corpus, "gdelt/gdelt-doc-rate-limited.txt")
    timed = gdelt.explain_error(GDELT, answer(body, 429, **{"retry-after": "30"}))
    bare = gdelt.explain_error(GDELT, answer(b"", 429))
    assert isinstance(timed, SourceRateLimited) and timed.retry_after_s == 30.0
    assert isinstance(bare, SourceRateLimited) and bare.retry_after_s is None
    assert str(bare) == "gdelt: rate limited: HTTP 429" and bare.status == 429


@pytest.mark.parametrize("text", [
    "The specified phrase is too short.",
    "Invalid/Unsupported Country.",
    "Parentheses may only be used around OR'd statements.",
])
def test_other_gdelt_query_notices_are_rejected_queries(text) -> None:
    with pytest.raises(SourceMisconfigured, match="^gdelt: query rejected: "):
        gdelt.parse_response(GDELT, answer(text + "\n"))
    assert isinstance(gdelt.explain_error(GDELT, answer(text, 400)), SourceMisconfigured)


@pytest.mark.parametrize("body, expected", [
    (b"Service temporarily unavailable\nsecond line", "Service temporarily unavailable"),
    (b"Your search timed out, please try again later", "timed out"),
    (b"<html><body>Invalid gateway</body></html>", "Invalid gateway"),  # a proxy page
    (b"\xff\xfe garbage", "garbage"),
])
def test_any_other_text_is_a_parse_error_quoting_it(body, expected) -> None:
    with pytest.raises(FeedParseError, match="GDELT did not answer JSON") as caught:
        gdelt.parse_response(GDELT, answer(body))
    assert expected in str(caught.value)
    assert not isinstance(caught.value, SourceMisconfigured | SourceRateLimited)


def test_gdelt_broken_json_and_empty_answers() -> None:
    with pytest.raises(FeedParseError, match="broken JSON"):
        gdelt.parse_response(GDELT, answer('{"articles": [{"url": '))
    assert gdelt.parse_response(GDELT, answer(b"")) == []
    assert gdelt.parse_response(GDELT, answer(b"{}")) == []


def test_a_server_error_from_gdelt_stays_an_http_error() -> None:
    assert gdelt.explain_error(GDELT, answer(b"Internal Server Error", 500)) is None


# -- GDELT: its fields ----------------------------------------------------------------------

def test_every_corpus_gdelt_article_parses_with_date_language_and_country(
    shared_corpus,
) -> None:
    body = wire(shared_corpus, "gdelt/gdelt-doc-artlist-vizhinjam-2024.json")
    items = gdelt.parse_response(GDELT, answer(body))
    assert len(items) == len(json.loads(body)["articles"]) == 4
    assert [(i.published_at, i.language, i.country) for i in items] == [
        (datetime(2024, 6, 15, 17, tzinfo=UTC), "en", "IN"),
        (datetime(2024, 7, 6, 9, 30, tzinfo=UTC), "ml", "IN"),
        (datetime(2024, 6, 20, 15, 45, tzinfo=UTC), "en", "IN"),
        (datetime(2024, 7, 15, 10, 30, tzinfo=UTC), "en", "IN"),
    ]
    assert items[1].title.startswith("ട്രോളിങ്") and items[0].url.startswith("https://www.thehindu")


def test_unknown_names_fall_back_to_the_source_language_and_no_country() -> None:
    body = json.dumps({"articles": [{"url": "https://a.example/1", "seendate": "2024-06-15",
                                     "language": "Klingon", "sourcecountry": "Atlantis"}]})
    [item] = gdelt.parse_response(GDELT, answer(body))
    assert (item.language, item.country, item.published_at) == ("es", None, None)


@pytest.mark.parametrize("name, code", [
    ("Spanish", "es"), ("English", "en"), ("Malayalam", "ml"), ("Chinese", "zh"),
    ("Hebrew", "he"), ("Sinhalese", "si"), ("Tibetan", "bo"), ("Persian", "fa"),
    ("NorwegianNynorsk", "nn"), ("Norwegian Nynorsk", "nn"), ("SPANISH", "es"),
    ("Klingon", None), ("", None), (None, None), (7, None),
])
def test_gdelt_language_names(name, code) -> None:
    assert language_code(name) == code


def test_all_65_gdelt_languages_have_their_own_two_letter_code() -> None:
    codes = list(LANGUAGES.values())
    assert len(codes) == len(set(codes)) == 65
    assert all(len(code) == 2 and code.isascii() and code.islower() for code in codes)


@pytest.mark.parametrize("name, code", [
    ("Venezuela", "VE"), ("United States", "US"), ("United Kingdom", "GB"),
    ("Switzerland", "CH"), ("China", "CN"),  # FIPS CH is China: names, never FIPS codes
    ("Congo", "CG"), ("Democratic Republic of the Congo", "CD"),
    ("Bosnia-Herzegovina", "BA"), ("Cote dIvoire", "CI"), ("Côte d'Ivoire", "CI"),
    ("Vietnam, Democratic Republic of", "VN"), ("Bahamas, The", "BS"), ("Burma", "MM"),
    ("Gaza Strip", "PS"), ("Kosovo", "XK"), ("Guinea", "GN"), ("Equatorial Guinea", "GQ"),
    ("Czechoslovakia", None), ("Oceans", None), ("Atlantis", None), ("", None), (None, None),
])
def test_gdelt_country_names(name, code) -> None:
    assert country_code(name) == code


def test_seendate_is_an_aware_utc_timestamp_or_nothing() -> None:
    assert gdelt.parse_seendate("20240615T170000Z") == datetime(2024, 6, 15, 17, tzinfo=UTC)
    assert gdelt.parse_seendate("2024-06-15T17:00:00Z") is None
    assert gdelt.parse_seendate(None) is None


# -- NewsAPI: its error bodies (documented shapes: none is in the corpus) -------------------

def newsapi_error(code: str, message: str = "As documented.") -> bytes:
    return json.dumps({"status": "error", "code": code, "message": message}).encode()


@pytest.mark.parametrize("status, code, what", [
    (401, "apiKeyInvalid", "API key rejected"),
    (401, "apiKeyMissing", "API key rejected"),
    (401, "apiKeyDisabled", "API key rejected"),
    (429, "apiKeyExhausted", "API key rejected"),  # only a new key or plan cures it
    (400, "parameterInvalid", "query rejected"),
    (400, "parametersMissing", "query rejected"),
    (400, "sourcesTooMany", "query rejected"),
    (400, "sourceDoesNotExist", "query rejected"),
])
def test_newsapi_rejections_make_the_source_misconfigured(status, code, what) -> None:
    error = newsapi.explain_error(NEWSAPI, answer(newsapi_error(code, "Fix it."), status))
    assert isinstance(error, SourceMisconfigured) and error.status == status
    assert str(error).startswith(f"newsapi: {what} ({code}): Fix it.")


def test_newsapi_rate_limit_waits_half_a_day_unless_told() -> None:
    body = newsapi_error("rateLimited", "You have made too many requests recently.")
    default = newsapi.explain_error(NEWSAPI, answer(body, 429))
    told = newsapi.explain_error(NEWSAPI, answer(body, 429, **{"retry-after": "3600"}))
    assert isinstance(default, SourceRateLimited) and isinstance(told, SourceRateLimited)
    assert default.retry_after_s == 12 * 3600 and told.retry_after_s == 3600
    assert str(default) == ("newsapi: rate limited (rateLimited): "
                            "You have made too many requests recently.")


@pytest.mark.parametrize("status, body", [
    (500, newsapi_error("unexpectedError")),
    (502, b"<html>Bad gateway</html>"),
    (400, newsapi_error("someFutureCode")),
])
def test_other_newsapi_errors_stay_http_errors(status, body) -> None:
    assert newsapi.explain_error(NEWSAPI, answer(body, status)) is None


def test_newsapi_error_words_are_cleaned_and_capped() -> None:
    body = newsapi_error("apiKeyInvalid", "Bad\x1b[31m key\u202e " + "x" * 5000)
    error = newsapi.explain_error(NEWSAPI, answer(body, 401))
    assert "\x1b" not in str(error) and "\u202e" not in str(error) and len(str(error)) < 400


def test_an_error_body_with_status_200_is_the_same_error() -> None:
    with pytest.raises(SourceMisconfigured, match="apiKeyInvalid"):
        newsapi.parse_response(NEWSAPI, answer(newsapi_error("apiKeyInvalid")))
    with pytest.raises(FeedParseError, match="unexpectedError"):
        newsapi.parse_response(NEWSAPI, answer(newsapi_error("unexpectedError")))


# -- NewsAPI: every capture in the corpus ----------------------------------------------------

NEWSAPI_CAPTURES = {  # file -> items (every article has a usable URL)
    "newsapi-v2-everything-bitcoin-2017-10-28.json": 20,
    "newsapi-v2-top-headlines-q-bitcoin-2017-12-26.json": 18,
    "newsapi-v2-top-headlines-sources-bbc-news-2017-12-25.json": 10,
    "newsapi-v2-sources-2017-12.json": 0,  # the source catalogue: no articles
    "newsapi-v2-everything-newsapi-date-filtering-from2025-10-29-259345ef.json": 5,
    "newsapi-v2-everything-newsapi-date-filtering-from2025-10-29-4c6f0eca.json": 5,
    "newsapi-v2-everything-newsapi-search-from2025-10-14-589c2d67.json": 3,
    "newsapi-v2-everything-newsapi-search-from2025-10-14-91a45c2e.json": 3,
    "newsapi-v2-everything-newsapi-search-from2025-10-14-b862c04d.json": 3,
    "newsapi-v2-everything-newsapi-search-from2025-10-15-61c02d98.json": 3,
    "newsapi-v2-everything-newsapi-search-from2025-10-23-b6b06ba1.json": 3,
    "newsapi-v2-everything-paid-apis-integration-from2025-10-14-8a48ba2c.json": 2,
    "newsapi-v2-everything-paid-apis-integration-from2025-10-14-da371a2b.json": 2,
    "newsapi-v2-everything-paid-apis-integration-from2025-10-14-e693b2e1.json": 2,
    "newsapi-v2-everything-paid-apis-integration-from2025-10-15-4aa1433e.json": 2,
    "newsapi-v2-everything-paid-apis-integration-from2025-10-23-53dc0c9c.json": 2,
}


def test_the_corpus_lists_every_newsapi_capture_tested_here(shared_corpus) -> None:
    present = {p.name for p in (shared_corpus / "wire" / "newsapi").glob("*.json")
               if not p.name.endswith(".meta.json")}
    assert present == set(NEWSAPI_CAPTURES)


@pytest.mark.parametrize("name, count", NEWSAPI_CAPTURES.items())
def test_every_newsapi_capture_parses(shared_corpus, name, count) -> None:
    body = wire(shared_corpus, f"newsapi/{name}")
    articles = json.loads(body).get("articles") or []
    items = newsapi.parse_response(NEWSAPI, answer(body))
    assert len(items) == count
    for item, article in zip(items, articles, strict=True):
        assert item.url == article["url"]
        stated = article["publishedAt"]
        assert item.published_at == (None if stated is None else
                                     datetime.fromisoformat(stated))
        assert item.date_flags == ()  # null is no date, not an unparseable one
        # content (2025) is a teaser: never the summary while a description exists
        assert "chars]" not in item.summary
        if article.get("description"):
            assert item.summary == clean_summary(article["description"])


def test_the_null_published_at_of_2017_is_no_date(shared_corpus) -> None:
    body = wire(shared_corpus, "newsapi/newsapi-v2-top-headlines-q-bitcoin-2017-12-26.json")
    undated = [i for i in newsapi.parse_response(NEWSAPI, answer(body)) if not i.published_at]
    assert [i.url for i in undated] == [
        "https://www.ft.com/content/738bab16-e98a-11e7-8713-513b1d7ca85a"]


def test_without_a_description_the_teaser_is_the_summary_without_its_mark() -> None:
    body = json.dumps({"status": "ok", "articles": [
        {"source": {"id": None, "name": "X"}, "url": "https://x.example/a", "title": "A",
         "description": None, "publishedAt": None,
         "content": "Quarterly results are a good time to check in on a company… [+5962 chars]"},
        {"source": {"id": None, "name": "X"}, "url": "https://x.example/b", "title": "B",
         "description": "", "content": None},
    ]})
    first, second = newsapi.parse_response(NEWSAPI, answer(body))
    assert first.summary == "Quarterly results are a good time to check in on a company…"
    assert second.summary == "" and first.published_at is None


# -- from a failed fetch to the service's error ---------------------------------------------

def http_error(status: int, body: bytes = b"", **headers: str) -> FetchError:
    return FetchError(f"HTTP {status}", kind="http-status", url="https://api.example/v2",
                      status=status, headers=headers, body=body)


def test_a_failed_fetch_is_explained_by_the_adapter_that_can() -> None:
    fetch = http_error(401, newsapi_error("apiKeyInvalid"))
    explained = explain_fetch_error(NEWSAPI, fetch)
    assert isinstance(explained, SourceMisconfigured) and explained.__cause__ is fetch
    assert explained.status == 401
    rss = Source(name="feed", url="https://x.example/rss")
    assert explain_fetch_error(rss, fetch) is fetch  # an RSS feed has no service words
    timeout = FetchError("read timeout", kind="timeout", url="https://api.example/v2")
    assert explain_fetch_error(NEWSAPI, timeout) is timeout
    unexplained = http_error(500, newsapi_error("unexpectedError"))
    assert explain_fetch_error(NEWSAPI, unexplained) is unexplained


def test_a_fetch_error_keeps_only_the_start_of_a_body() -> None:
    assert len(http_error(500, b"x" * (ERROR_BODY_MAX * 3)).body) == ERROR_BODY_MAX


def test_service_errors_survive_the_trip_back_from_a_parse_worker() -> None:
    limited = pickle.loads(pickle.dumps(SourceRateLimited("gdelt: rate limited: x",
                                                          retry_after_s=5.0, status=200)))
    rejected = pickle.loads(pickle.dumps(SourceMisconfigured("gdelt: query rejected: x",
                                                             status=200)))
    assert (str(limited), limited.retry_after_s, limited.status) == (
        "gdelt: rate limited: x", 5.0, 200)
    assert (str(rejected), rejected.status) == ("gdelt: query rejected: x", 200)


# -- the schedule after each ----------------------------------------------------------------

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = SchedulePolicy(min_interval=timedelta(minutes=5), max_interval=timedelta(hours=6),
                        failing_after=4, failing_interval=timedelta(hours=24))


def failed(error: Exception) -> PollResult:
    return PollResult(status="error", started=0.0, error=error, policy=POLICY)


def test_a_misconfigured_source_waits_for_a_human_not_a_backoff() -> None:
    error = SourceMisconfigured(f"gdelt: query rejected: {KEYWORD_ERROR}", status=200)
    after = next_health(SourceHealth(poll_interval=timedelta(minutes=30)), failed(error),
                        items_new=0, now=NOW)
    assert (after.status, after.error_streak) == ("misconfigured", 1)
    assert after.next_poll_at == NOW + POLICY.failing_interval
    assert after.last_error == f"gdelt: query rejected: {KEYWORD_ERROR}"


def test_a_misconfigured_source_fixed_then_failing_otherwise_backs_off_as_usual() -> None:
    misconfigured = SourceHealth(status="misconfigured", error_streak=1)
    timeout = FetchError("read timeout", kind="timeout", url="https://api.example/v2")
    after = next_health(misconfigured, failed(timeout), items_new=0, now=NOW)
    assert after.status == "active" and after.next_poll_at == NOW + timedelta(minutes=10)
    healed = next_health(misconfigured, PollResult(status="ok", started=0.0, policy=POLICY,
                                                   items=[FeedItem(url="https://a.example/")]),
                         items_new=1, now=NOW)
    assert (healed.status, healed.error_streak, healed.last_error) == ("active", 0, None)


@pytest.mark.parametrize("retry_after_s, wait", [
    (5.0, POLICY.min_interval),  # GDELT's five seconds: never sooner than the minimum
    (None, POLICY.min_interval),
    (3600.0, timedelta(hours=1)),
    (12 * 3600.0, timedelta(hours=12)),  # NewsAPI's default
    (90 * 86400.0, POLICY.failing_interval),  # an absurd Retry-After does not silence it
])
def test_a_rate_limit_waits_as_asked_and_is_no_failure(retry_after_s, wait) -> None:
    failing = SourceHealth(status="failing", error_streak=5, poll_interval=timedelta(hours=1),
                           last_success_at=NOW - timedelta(days=2))
    error = SourceRateLimited("gdelt: rate limited: slow down", retry_after_s=retry_after_s)
    after = next_health(failing, failed(error), items_new=0, now=NOW)
    assert after.next_poll_at == NOW + wait
    assert (after.status, after.error_streak, after.poll_interval) == (
        "failing", 5, timedelta(hours=1))
    assert after.last_error == "gdelt: rate limited: slow down" and after.last_polled_at == NOW
