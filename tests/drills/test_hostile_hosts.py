"""Drill: hostile hosts in the same cycle as the demo site, with the SSRF guard on.

The demo site and the hostile hosts live on 127.0.0.2 and up, let through by
`allowed_networks`; 127.0.0.1 stands for the machine's own services and must
never be reached, however a feed or a redirect points there.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import ExitStack
from xml.sax.saxutils import escape

import psycopg
import pytest

from pipeline.demo import SITE_DIR
from pipeline.demo.server import serve_directory
from pipeline.ingest.cycle import run_cycle
from tests.drills.conftest import DEMO_ARTICLES, demo_sources, fetch_errors, snapshot, source_entry
from tests.support.loopback import LoopbackServer, Reply, redirect

MB = 1024 * 1024


def rss(items: dict[str, str]) -> bytes:
    """An RSS feed with one entry per (title, link)."""
    entries = "".join(
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<guid>{escape(link)}</guid></item>" for title, link in items.items())
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>hostile</title><link>http://x.test/</link>{entries}</channel></rss>"
            ).encode()


@pytest.fixture
def hosts() -> Iterator[dict[str, LoopbackServer]]:
    """One host per misbehaviour (each host has its own per-host cap), plus the inside one."""
    behaviours = {
        "hang": {"/p": Reply(hang=True)},
        "trickle": {"/p": Reply(body=b"<html>" + b"x" * 200, trickle_s=1.0)},
        "endless": {"/p": Reply(body=bytes(8 * MB), send_length=False)},
        "bomb": {"/p": Reply(headers={"content-encoding": "gzip"},
                             body=gzip.compress(bytes(64 * MB), compresslevel=9))},
        "loop": {"/a": redirect("/b"), "/b": redirect("/a")},
        "storm": {"/p": Reply(status=429, headers={"retry-after": "1"})},
        "to-inside": {},  # routes added below, once the inside host's address is known
        "to-private": {"/p": redirect("http://10.255.255.1/admin"),
                       "/feed.xml": redirect("http://192.168.0.1/feed.xml")},
        "plain-http": {"/p": Reply(body=b"<html>not tls</html>")},
    }
    with ExitStack() as stack:
        servers = {"inside": stack.enter_context(LoopbackServer(
            {"/secret": Reply(body=b"internal admin page")}, host="127.0.0.1"))}
        for n, (name, routes) in enumerate(behaviours.items(), start=3):
            servers[name] = stack.enter_context(LoopbackServer(routes, host=f"127.0.0.{n}"))
        servers["to-inside"].routes.update({
            "/p": redirect(servers["inside"].url("/secret")),
            "/feed.xml": redirect(servers["inside"].url("/secret"))})
        yield servers


def test_hostile_hosts_fail_alone_and_are_recorded(settings, db_url, tmp_path, hosts) -> None:
    pages = {name: srv.url("/a" if name == "loop" else "/p")
             for name, srv in hosts.items() if name != "inside"}
    pages["plain-http"] = pages["plain-http"].replace("http://", "https://")  # TLS error
    pages["inside"] = hosts["inside"].url("/secret")  # a feed linking straight inside
    settings = settings.replace(
        allow_private_networks=False,
        allowed_networks=tuple(f"127.0.0.{n}/32" for n in range(2, 16)),
        connect_timeout_s=1.0, read_timeout_s=1.5, request_deadline_s=3.0,
        max_response_bytes=MB, retries=1, retry_after_max_s=5.0)

    with serve_directory(SITE_DIR, host="127.0.0.2") as demo, \
            LoopbackServer({"/feed.xml": (200, {"content-type": "application/rss+xml"},
                                          rss(pages))}, host="127.0.0.15") as feed:
        extra = (source_entry("hostile pages", feed.url("/feed.xml"))
                 + source_entry("hanging feed", hosts["hang"].url("/p"))
                 + source_entry("feed redirecting inside", hosts["to-inside"].url("/feed.xml"))
                 + source_entry("feed redirecting private",
                                hosts["to-private"].url("/feed.xml")))
        summary = run_cycle(settings, sources=demo_sources(demo, tmp_path, extra), db_url=db_url)

    stored = snapshot(db_url)
    failed = {url: error for _s, url, outcome, _a, error in stored["feed_items"]
              if outcome == "failed-fetch"}
    with psycopg.connect(db_url) as conn:
        status = conn.execute("SELECT status FROM runs").fetchone()[0]
    assert status == "completed"
    assert summary.new_articles == DEMO_ARTICLES
    assert len(stored["articles"]) == DEMO_ARTICLES
    assert set(failed) == set(pages.values())  # every hostile entry, and nothing else
    for name, expected in EXPECTED_PAGE_ERRORS.items():
        assert failed[pages[name]].startswith("fetch: ")
        assert expected in failed[pages[name]], (name, failed[pages[name]])
    assert fetch_errors(db_url) == {
        "hanging feed": "fetch: no complete response within the 3 s request deadline "
                        f"({hosts['hang'].url('/p')})",
        "feed redirecting inside": "fetch: refused: 127.0.0.1 resolves to loopback address "
                                   "127.0.0.1 (set NEWSMON_ALLOW_PRIVATE_NETWORKS=1 to allow) "
                                   f"({hosts['inside'].url('/secret')})",
        "feed redirecting private": "fetch: refused: 192.168.0.1 resolves to private address "
                                    "192.168.0.1 (set NEWSMON_ALLOW_PRIVATE_NETWORKS=1 to "
                                    "allow) (http://192.168.0.1/feed.xml)",
    }
    assert hosts["inside"].requests == []  # neither a link nor a redirect got in
    assert hosts["storm"].count("/p") == 2  # one try, one retry after Retry-After; no storm


EXPECTED_PAGE_ERRORS = {
    "hang": "no complete response within the 3 s request deadline",
    "trickle": "no complete response within the 3 s request deadline",
    "endless": "body exceeds 1 MB",
    "bomb": "body exceeds 1 MB",
    "loop": "redirect loop back to",
    "storm": "HTTP 429 Too Many Requests after 2 attempts",
    "to-inside": "refused: 127.0.0.1 resolves to loopback address",
    "to-private": "refused: 10.255.255.1 resolves to private address",
    "plain-http": "TLS error",
    "inside": "refused: 127.0.0.1 resolves to loopback address",
}
