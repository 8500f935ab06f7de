"""GDELT and NewsAPI errors from loopback servers through polling into the schedule, the
poll record, `feed_health` and `newsmon sources list/check`; NewsAPI teasers in a cycle."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from pipeline.cli.sources import sources_group
from pipeline.config import Settings
from pipeline.demo import SITE_DIR
from pipeline.http import FetchError, HttpClient
from pipeline.ingest.cycle import run_cycle
from pipeline.ingest.poll import poll_source, record_poll
from pipeline.models import Source
from pipeline.sources import load_sources_file
from pipeline.store import connect
from pipeline.store.sources import due_sources, registered_sources
from tests.support.loopback import LoopbackServer, Reply, replies_in_turn

TEXT = {"content-type": "text/plain; charset=utf-8"}
JSON = {"content-type": "application/json; charset=utf-8"}
GDELT_PATH = "/api/v2/doc/doc"
NEWSAPI_PATH = "/v2/everything"


def wire(shared_corpus: Path, name: str) -> bytes:
    return (shared_corpus / "wire" / name).read_bytes()


def newsapi_error(code: str, message: str) -> bytes:
    return json.dumps({"status": "error", "code": code, "message": message}).encode()


def write_sources(path: Path, server: LoopbackServer, query: str) -> Path:
    path.write_text(f'[[sources]]\nname = "gdelt tren"\nkind = "gdelt"\n'
                    f'url = "{server.url(GDELT_PATH)}"\nparams = {{ query = {json.dumps(query)} }}\n',
                    encoding="utf-8")
    return path


def poll_at(settings: Settings, db_url: str, source: Source, now: datetime) -> None:
    """One poll of `source` (registered first) recorded as if at `now`."""
    async def go():
        async with HttpClient(settings) as client:
            return await poll_source(client, source, etag=None, last_modified=None)
    with connect(db_url, autocommit=True) as conn:
        [source] = registered_sources(conn, [source])
        record_poll(conn, source, asyncio.run(go()), run_id=None, items_new=0, now=now)


def state(db_url: str, name: str) -> dict:
    with psycopg.connect(db_url) as conn:
        conn.row_factory = psycopg.rows.dict_row
        return conn.execute(
            """SELECT s.id, s.status, s.error_streak, s.next_poll_at, s.last_polled_at,
                      s.last_error, h.health, h.error_streak AS health_streak,
                      h.last_error AS health_error,
                      (SELECT array_agg(ARRAY[f.error_class, f.http_status::text]
                                        ORDER BY f.started_at)
                       FROM fetch_log f WHERE f.source_id = s.id) AS polls
               FROM sources s JOIN feed_health h ON h.source_id = s.id
               WHERE s.name = %s""", (name,)).fetchone()


def cli_row(settings: Settings, command: str, name: str) -> list[str]:
    """The cells of `name`'s row in `newsmon sources <command>`'s table (first line)."""
    done = CliRunner().invoke(sources_group, [command], obj=settings)
    assert done.exit_code == 0, done.output
    [line] = [line for line in done.output.splitlines() if f"│ {name} " in line]
    return [cell.strip() for cell in line.strip("│ ").split("│")]


# -- a rejected query ----------------------------------------------------------------------

def test_a_gdelt_query_error_makes_the_source_misconfigured_until_its_entry_changes(
    settings, db_url, shared_corpus, tmp_path
) -> None:
    settings = settings.replace(database_url=db_url, poll_failing_interval_s=86400)
    body = wire(shared_corpus, "gdelt/gdelt-doc-keyword-error.txt")
    with LoopbackServer({GDELT_PATH: (200, TEXT, body)}) as server:
        sources_file = write_sources(tmp_path / "sources.toml", server, "locationcc:br")
        settings = settings.replace(sources_file=sources_file)
        # A whole cycle: the parse runs in a worker and the error crosses its pipe.
        summary = run_cycle(settings, sources=load_sources_file(sources_file), db_url=db_url)
        after = state(db_url, "gdelt tren")
        listed = cli_row(settings, "list", "gdelt tren")
        checked = cli_row(settings, "check", "gdelt tren")

        with connect(db_url, autocommit=True) as conn:
            [source] = registered_sources(conn, load_sources_file(sources_file))
            hours_later = after["last_polled_at"] + timedelta(hours=6)
            still_waiting = due_sources(conn, [source], now=hours_later)
            write_sources(sources_file, server, '"Tren de Aragua" locationcc:br')  # the fix
            [source] = registered_sources(conn, load_sources_file(sources_file))
            due_after_edit = due_sources(conn, [source], now=hours_later)

    message = ("gdelt: query rejected: One or more of your keywords were too short, "
               "too long or too common: (locationcc:br)")
    assert summary.sources_failed == 1 and summary.errors == [f"gdelt tren: {message}"]
    assert (after["status"], after["error_streak"], after["last_error"]) == (
        "misconfigured", 1, message)
    assert after["next_poll_at"] - after["last_polled_at"] == timedelta(days=1)  # no backoff
    assert after["polls"] == [["misconfigured", "200"]]
    assert (after["health"], after["health_error"]) == ("misconfigured", message)
    assert listed[3].startswith("misconfigured: gdelt: query rejected: One or more of your")
    assert checked[1] == "misconfigured"
    assert checked[-1].startswith("gdelt: query rejected: One or more of your keywords")
    assert still_waiting == [] and due_after_edit == [source]
    assert len(server.requests) == 1
    assert state(db_url, "gdelt tren")["status"] == "active"


def test_a_rejected_newsapi_key_makes_the_source_misconfigured(settings, db_url) -> None:
    body = newsapi_error("apiKeyInvalid", "Your API key is invalid or incorrect.")
    with LoopbackServer({NEWSAPI_PATH: Reply(status=401, headers=JSON, body=body)}) as server:
        source = Source(name="newsapi", url=server.url(NEWSAPI_PATH), kind="newsapi",
                        params={"query": "Maduro"})
        now = datetime.now(UTC)
        poll_at(settings.replace(newsapi_key="wrong", poll_failing_interval_s=3600), db_url,
                source, now)

    after = state(db_url, "newsapi")
    assert len(server.requests) == 1  # a 401 is not asked again
    assert (after["status"], after["next_poll_at"]) == ("misconfigured", now + timedelta(hours=1))
    assert after["last_error"] == ("newsapi: API key rejected (apiKeyInvalid): Your API key is "
                                   "invalid or incorrect. (check NEWSMON_NEWSAPI_KEY)")
    assert after["polls"] == [["misconfigured", "401"]] and after["health"] == "misconfigured"


# -- rate limits ---------------------------------------------------------------------------

@pytest.mark.parametrize("status, headers, wait", [
    (200, TEXT, timedelta(minutes=1)),  # "one every 5 seconds": the minimum interval
    (429, TEXT, timedelta(minutes=1)),
    (429, {**TEXT, "retry-after": "600"}, timedelta(minutes=10)),  # longer than the client waits
])
def test_gdelt_throttle_backs_off_as_a_rate_limit_not_a_failure(
    settings, db_url, shared_corpus, status, headers, wait
) -> None:
    settings = settings.replace(retries=0, poll_min_interval_s=60, poll_failing_after=2)
    notice = wire(shared_corpus, "gdelt/gdelt-doc-rate-limited.txt")
    answers = replies_in_turn(Reply(status=500), Reply(status=status, headers=headers,
                                                       body=notice))
    with LoopbackServer({GDELT_PATH: answers}) as server:
        source = Source(name="gdelt", url=server.url(GDELT_PATH), kind="gdelt",
                        params={"query": "Maduro"})
        first = datetime.now(UTC)
        poll_at(settings, db_url, source, first)  # a real failure: streak 1
        second = first + timedelta(minutes=5)
        poll_at(settings, db_url, source, second)  # the throttle

    after = state(db_url, "gdelt")
    assert (after["status"], after["error_streak"]) == ("active", 1)  # not failing
    assert after["next_poll_at"] == second + wait
    assert after["last_error"].startswith("gdelt: rate limited: Please limit requests to one")
    assert after["polls"] == [["http-status", "500"], ["rate-limited", str(status)]]
    assert (after["health"], after["health_streak"]) == ("rate-limited", 1)


def test_a_newsapi_rate_limit_waits_half_a_day(settings, db_url) -> None:
    body = newsapi_error("rateLimited", "You have made too many requests recently.")
    with LoopbackServer({NEWSAPI_PATH: Reply(status=429, headers=JSON, body=body)}) as server:
        source = Source(name="newsapi", url=server.url(NEWSAPI_PATH), kind="newsapi",
                        params={"query": "Maduro"})
        now = datetime.now(UTC)
        poll_at(settings.replace(newsapi_key="k", retries=0), db_url, source, now)

    after = state(db_url, "newsapi")
    assert (after["status"], after["error_streak"]) == ("active", 0)
    assert after["next_poll_at"] == now + timedelta(hours=12)
    assert after["last_error"] == ("newsapi: rate limited (rateLimited): You have made too "
                                   "many requests recently.")
    assert after["polls"] == [["rate-limited", "429"]] and after["health"] == "rate-limited"


def test_an_unexpected_newsapi_error_is_an_ordinary_failure(settings, db_url) -> None:
    body = newsapi_error("unexpectedError", "Something went wrong.")
    with LoopbackServer({NEWSAPI_PATH: Reply(status=500, headers=JSON, body=body)}) as server:
        source = Source(name="newsapi", url=server.url(NEWSAPI_PATH), kind="newsapi",
                        params={"query": "Maduro"})
        now = datetime.now(UTC)
        poll_at(settings.replace(newsapi_key="k", retries=0, poll_min_interval_s=60), db_url,
                source, now)

    after = state(db_url, "newsapi")
    assert (after["status"], after["error_streak"]) == ("active", 1)
    assert after["next_poll_at"] == now + timedelta(minutes=1)
    assert after["polls"] == [["http-status", "500"]] and after["health"] == "dead"


# -- the body an error answer carries --------------------------------------------------------

@pytest.mark.parametrize("headers, body", [
    ({}, b"Please limit requests. " + b"x" * 200_000),
    ({"content-encoding": "gzip"}, gzip.compress(b"Please limit requests. " + b"x" * 200_000)),
])
def test_a_status_error_keeps_the_start_of_its_body(settings, headers, body) -> None:
    async def go() -> FetchError:
        async with HttpClient(settings.replace(retries=0)) as client:
            with pytest.raises(FetchError) as caught:
                await client.fetch(server.url("/doc"))
            return caught.value

    with LoopbackServer({"/doc": Reply(status=400, headers=headers, body=body)}) as server:
        error = asyncio.run(go())
    assert error.status == 400 and len(error.body) == 4096
    assert error.body.startswith(b"Please limit requests. xxx")


# -- NewsAPI's teaser in a cycle ---------------------------------------------------------------

def test_newsapi_content_is_a_teaser_and_the_page_is_the_article(settings, db_url,
                                                                   shared_corpus) -> None:
    capture = json.loads(wire(
        shared_corpus, "newsapi/newsapi-v2-everything-newsapi-search-from2025-10-14-589c2d67.json"))
    page = "/caribbean-wire/2026/11/tren-de-aragua-arrests.html"
    with LoopbackServer() as server:
        article = {**capture["articles"][0], "url": server.url(page)}  # real shape, our page
        server.routes[NEWSAPI_PATH] = (200, JSON, json.dumps(
            {**capture, "articles": [article]}).encode())
        server.routes[page] = (200, {"content-type": "text/html; charset=utf-8"},
                               (SITE_DIR / page.lstrip("/")).read_bytes().replace(
                                   b"{BASE}", server.base_url.encode()))
        source = Source(name="newsapi", url=server.url(NEWSAPI_PATH), kind="newsapi",
                        language="en", params={"query": "Tren de Aragua"})
        summary = run_cycle(settings.replace(newsapi_key="k"), sources=[source], db_url=db_url)

    with psycopg.connect(db_url) as conn:
        text, feed_summary = conn.execute("SELECT text, feed_summary FROM articles").fetchone()
    assert summary.new_articles == 1 and server.count(page) == 1
    assert text.startswith("Police in Texas, Colorado and Florida arrested eleven people")
    assert article["content"].split("…")[0] not in text and "chars]" not in text
    assert feed_summary.startswith("Quarterly earnings results are a good time to check")
    assert "chars]" not in feed_summary
