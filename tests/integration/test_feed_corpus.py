"""Every file of the shared feed corpus through the poller, served from loopback.

The corpus (../shared/corpus/feeds/) holds feed parsers' own test files, well-formed and
ill-formed, plus real captured news feeds. Each file is served as a web server would serve
it: with the `Header:` lines of feedparser's test files as HTTP headers, gzip files with
`Content-Encoding: gzip` (how node-feedparser's test server serves them), and a content
type from the extension otherwise. None may crash the poll; each gets a result, and a
failure carries a stage-prefixed message. Run with `-s` to see the counts.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from pipeline.http import HttpClient
from pipeline.ingest.cycle import run_cycle
from pipeline.ingest.poll import PollResult, poll_source
from pipeline.models import Source
from pipeline.sources.rss import parse_feed
from tests.support.loopback import LoopbackServer, RecordedRequest, Reply

# feedparser's test server reads these from the file's leading comment.
HEADER_LINE = re.compile(rb"^Header:[ \t]+([^:\r\n]+):[ \t]*(.*?)[ \t\r]*$", re.MULTILINE)
CONTENT_TYPES = {".xml": "application/xml", ".rss": "application/rss+xml",
                 ".atom": "application/atom+xml", ".json": "application/json",
                 ".html": "text/html; charset=utf-8"}
# Ground truth from SOURCES.md: real news feeds and how many items each carries.
KNOWN_ITEMS = {
    "news-captured/photojournalism/tests/fixtures/bbc.xml": 16,
    "news-captured/photojournalism/tests/fixtures/npr.xml": 15,
    "news-captured/photojournalism/tests/fixtures/nytimes.xml": 25,
    "news-captured/photojournalism/tests/fixtures/japantimes.xml": 30,
    "news-captured/photojournalism/tests/fixtures/aeon.xml": 20,
    "news-captured/photojournalism/tests/fixtures/quanta.xml": 5,
    "rss-parser/test/input/guardian.rss": 55,
}


@pytest.fixture
def corpus_feeds(shared_corpus: Path) -> Path:
    feeds = shared_corpus / "feeds"
    if not feeds.is_dir():
        pytest.skip("../shared/corpus/feeds is not present")
    return feeds


def corpus_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def served(path: Path) -> Reply:
    body = path.read_bytes()
    headers = {"content-type": CONTENT_TYPES.get(path.suffix, "application/octet-stream")}
    if body.startswith(b"\x1f\x8b"):
        headers["content-encoding"] = "gzip"
    comment_end = body.find(b"-->", 0, 8192)
    for name, value in HEADER_LINE.findall(body[: max(comment_end, 0)]):
        headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1")
    return Reply(headers=headers, body=body)


def corpus_server(root: Path) -> LoopbackServer:
    def answer(request: RecordedRequest) -> Reply:
        return served(root / request.path.lstrip("/").split("?")[0])

    server = LoopbackServer()
    for relative in corpus_files(root):
        server.routes["/" + relative] = answer
    return server


async def poll_all(settings, server: LoopbackServer, files: list[str]) -> dict[str, PollResult]:
    async with HttpClient(settings) as client:
        results = await asyncio.gather(*(
            poll_source(client, Source(name=f, url=server.url("/" + f)), etag=None,
                        last_modified=None)
            for f in files
        ))
    return dict(zip(files, results, strict=True))


def test_every_corpus_feed_goes_through_the_poller_without_a_crash(
    settings, corpus_feeds
) -> None:
    files = corpus_files(corpus_feeds)
    settings = settings.replace(per_host_concurrency=16, concurrency=16)
    with corpus_server(corpus_feeds) as server:
        results = asyncio.run(poll_all(settings, server, files))

    outcomes = Counter(r.status for r in results.values())
    with_items = sum(1 for r in results.values() if r.status == "ok" and r.items)
    errors = {f: r.error for f, r in results.items() if r.status == "error"}
    print(f"\nfeed corpus: {len(files)} files, {outcomes['ok']} parsed "
          f"({with_items} with items), {len(errors)} recorded as errors")
    for name, error in sorted(errors.items()):
        print(f"  {name}: {error}")

    assert len(results) == len(files) > 1000
    assert set(outcomes) <= {"ok", "error"}  # every file got an answer, none escaped
    assert all(str(e).startswith(("parse:", "fetch:")) for e in errors.values())
    assert {f: len(results[f].items) for f in KNOWN_ITEMS} == KNOWN_ITEMS
    assert results["node-feedparser/test/feeds/notafeed.html"].status == "error"
    assert results["node-feedparser/test/feeds/compressed.xml"].items  # gzip body
    assert results["feedparser/tests/json/example.json"].items  # JSON Feed


# Files that yield no items (so the run fetches no article from the internet): broken,
# not feeds at all, or valid feeds without entries.
RUN_FILES = [
    "node-feedparser/test/feeds/notafeed.html",
    "feedparser/LICENSE",
    "feed-rs/feed-rs/fixture/rss2/rss_2.0_bbc.serde.json",
    "rss-parser/test/output/guardian.json",
    "feedparser/tests/wellformed/rss/channel_title.xml",
]


def test_corpus_failures_land_in_fetch_log_with_a_clear_message(
    settings, db_url, corpus_feeds
) -> None:
    files = [f for f in RUN_FILES if (corpus_feeds / f).is_file()]
    for name in files:  # no item means no article fetch, so nothing leaves loopback
        try:
            assert parse_feed(served(corpus_feeds / name).body, base_url="http://x/") == []
        except ValueError:
            pass
    with corpus_server(corpus_feeds) as server:
        sources = [Source(name=f, url=server.url("/" + f)) for f in files]
        summary = run_cycle(settings, sources=sources, db_url=db_url)

    with psycopg.connect(db_url) as conn:
        rows = {name: rest for name, *rest in conn.execute(
            """SELECT s.name, f.status, f.http_status, f.error_class, f.error_message
               FROM fetch_log f JOIN sources s ON s.id = f.source_id""").fetchall()}
    assert set(rows) == set(files)
    failed = {name: row for name, row in rows.items() if row[0] == "error"}
    assert summary.sources_failed == len(failed) >= len(files) - 1
    assert all(row[1] == 200 and row[2] == "parse" for row in failed.values())
    assert all(row[3].startswith("parse: not a usable feed (") for row in failed.values())
    assert "HTML page" in failed["node-feedparser/test/feeds/notafeed.html"][3]
    assert "not XML: starts with 'feedparser and its" in failed["feedparser/LICENSE"][3]
    assert "JSON, but not a JSON Feed" in failed["rss-parser/test/output/guardian.json"][3]
    assert rows["feedparser/tests/wellformed/rss/channel_title.xml"][0] == "ok"
