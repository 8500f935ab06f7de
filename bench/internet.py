"""The benchmark's loopback "internet": many hosts on 127.x.y.z serving feeds and pages.

    plan = Plan(hosts=254, items_per_feed=20, slow_hosts=4, failing_hosts=4)
    with Internet(plan) as net:
        sources = net.sources()          # one Source per feed, URLs on distinct hosts
        ... run a cycle ...
        net.stats()                      # requests served, by kind

Every host is its own listening address (Linux routes all of 127.0.0.0/8 to lo), so the
client's per-host caps and robots.txt cache see hundreds of sites. One asyncio server in
its own process answers them all with little CPU, so the machine's cores go to the
pipeline. Feeds carry an ETag and a Last-Modified and answer conditional requests with
304. A few hosts are slow (every answer waits `slow_latency_s`), a few fail (half answer
their feed with 503, half drop the connection on every article page).

Article pages are the real pages of the shared corpus (../shared/corpus/articles, read at
run time, never copied) when present, so HTML weight and extraction cost are real; each
served copy gets a unique paragraph spliced into its main text, so every page is a new
article to the pipeline. Without the corpus, pages come from templates of realistic size.
`Site` builds the same bytes in any process, so a baseline can extract exactly the pages
the cycle fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import multiprocessing
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Self
from xml.sax.saxutils import escape

from pipeline.models import Source

CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "articles"
ROBOTS_TXT = b"User-agent: *\nAllow: /\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The shape of the simulated web. Hosts are numbered; the last `failing_hosts` fail
    and the `slow_hosts` before them are slow."""

    hosts: int = 254
    feeds_per_host: int = 1
    items_per_feed: int = 20
    latency_s: float = 0.02  # every answer waits this long (a nearby server)
    slow_hosts: int = 4
    slow_latency_s: float = 1.5
    failing_hosts: int = 4
    pages: str = "corpus"  # "corpus": real pages when present; "light": small generated pages
    seed: int = 1
    epoch: int = 1_767_225_600  # feed dates count back from here (set it to about now)
    block: int = 61  # second octet of the addresses: 127.<block>.x.y

    @property
    def feeds(self) -> int:
        return self.hosts * self.feeds_per_host

    @property
    def pages_total(self) -> int:
        return self.feeds * self.items_per_feed

    def is_failing(self, host: int) -> bool:
        return host >= self.hosts - self.failing_hosts

    def is_slow(self, host: int) -> bool:
        return not self.is_failing(host) and host >= self.hosts - self.failing_hosts - self.slow_hosts

    def feed_fails(self, host: int) -> bool:
        return self.is_failing(host) and host % 2 == 0

    def pages_fail(self, host: int) -> bool:
        return self.is_failing(host) and host % 2 == 1

    def address(self, host: int) -> str:
        return f"127.{self.block}.{host // 250}.{host % 250 + 1}"

    def host_of_feed(self, feed: int) -> int:
        return feed // self.feeds_per_host

    def feed_of_page(self, page: int) -> int:
        return page // self.items_per_feed

    def good_pages(self) -> list[int]:
        """Pages a cycle can fetch and extract: all but those behind failing hosts."""
        return [p for p in range(self.pages_total)
                if not self.is_failing(self.host_of_feed(self.feed_of_page(p)))]


# -- content --------------------------------------------------------------------------------

_TEXT_EN = (
    "government officials said the new measures would take effect next week after a long "
    "debate in congress about the budget and the future of public services across the region "
    "while analysts warned that prices could rise again before the end of the year as "
    "exports fell and several companies announced layoffs in the northern provinces where "
    "farmers have protested for months against water restrictions and delayed payments"
)
_TEXT_ES = (
    "el gobierno anunció nuevas medidas que entrarán en vigor la próxima semana tras un largo "
    "debate en el congreso sobre el presupuesto y el futuro de los servicios públicos en la "
    "región mientras los analistas advirtieron que los precios podrían subir otra vez antes "
    "de fin de año porque las exportaciones cayeron y varias empresas anunciaron despidos"
)
_WORDS_EN, _WORDS_ES = _TEXT_EN.split(), _TEXT_ES.split()
_SUBJECT = (
    "Members of the Tren de Aragua gang were arrested, officials in Venezuela said.",
    "The government of Nicolás Maduro condemned the US strike on a boat in the Caribbean.",
    "Autoridades de Venezuela detuvieron a integrantes del Tren de Aragua.",
    "El régimen de Maduro denunció un ataque de Estados Unidos contra una lancha.",
)


@dataclass(frozen=True, slots=True)
class BasePage:
    body: bytes
    cuts: tuple[int, ...]  # offsets of main-text paragraphs; unique words are spliced in there
    title: str
    lang: str


class Site:
    """Every feed and page of a plan, built deterministically (same bytes in any process)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.bases = load_corpus_pages() if plan.pages == "corpus" else []
        self.source = "corpus" if self.bases else "generated"
        if not self.bases:
            self.bases = generated_pages(light=plan.pages == "light", seed=plan.seed)
        order = list(range(len(self.bases)))
        random.Random(plan.seed).shuffle(order)
        self._order = order

    def base(self, page: int) -> BasePage:
        return self.bases[self._order[page % len(self._order)]]

    def page_body(self, page: int) -> bytes:
        base = self.base(page)
        # Several splice points: trafilatura now and then drops one paragraph of a page.
        parts, start = [], 0
        for index, cut in enumerate(base.cuts):
            text = self.unique_text(page, base.lang) if index == 0 else f"Ref {page}-{index}. "
            parts += [base.body[start:cut], text.encode()]
            start = cut
        parts.append(base.body[start:])
        return b"".join(parts)

    def unique_text(self, page: int, lang: str) -> str:
        rng = random.Random(self.plan.seed * 1_000_003 + page)
        words = _WORDS_ES if lang.startswith("es") else _WORDS_EN
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(25, 60)))
        subject = _SUBJECT[page % len(_SUBJECT)] + " " if page % 4 == 0 else ""
        return f"Dispatch {page}-{self.plan.seed}: {subject}{sentence}. "

    def page_title(self, page: int) -> str:
        return f"{self.base(page).title} ({page})"

    def page_path(self, page: int) -> str:
        return f"/news/{page}.html"

    def feed_path(self, feed: int) -> str:
        return f"/feeds/{feed}.xml"

    def feed_xml(self, feed: int, base_url: str) -> bytes:
        first = feed * self.plan.items_per_feed
        items = []
        for page in range(first, first + self.plan.items_per_feed):
            when = datetime.fromtimestamp(self.plan.epoch, UTC) - timedelta(minutes=page % 600)
            items.append(
                f"<item><title>{escape(self.page_title(page))}</title>"
                f"<link>{base_url}{self.page_path(page)}</link>"
                f'<guid isPermaLink="false">bench-{self.plan.seed}-{page}</guid>'
                f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
                f"<description>{escape(self.unique_text(page, self.base(page).lang)[:200])}"
                f"</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>Bench outlet feed {feed}</title><link>{base_url}/</link>"
            f"<description>Feed {feed} of the benchmark internet</description>"
            + "".join(items) + "</channel></rss>"
        ).encode()


def feed_etag(plan: Plan, feed: int) -> str:
    return f'"f{feed}-{plan.seed}-{plan.items_per_feed}"'


def feed_last_modified(plan: Plan) -> str:
    return format_datetime(datetime.fromtimestamp(plan.epoch, UTC), usegmt=True)


def load_corpus_pages(directory: Path = CORPUS_DIR) -> list[BasePage]:
    """The shared corpus's real pages that have a findable main-text paragraph."""
    manifest = directory / "manifest.json"
    if not manifest.exists():
        return []
    pages = []
    for item in json.loads(manifest.read_text(encoding="utf-8"))["items"]:
        try:
            body = gzip.decompress((directory / item["file"]).read_bytes())
        except OSError:
            continue
        if item.get("expected_text"):
            segments = item["expected_text"].split("\n")
        else:
            segments = list(item.get("expected_with") or ())
        cuts = text_cuts(body, segments)
        if cuts:
            lang = (item.get("html_lang") or "en").lower()
            pages.append(BasePage(body=body, cuts=cuts, title=item.get("html_title") or "",
                                  lang=lang))
    return pages


def text_cuts(html: bytes, segments: list[str], *, most: int = 3) -> tuple[int, ...]:
    """Offsets where main-text paragraphs start in the page (up to `most`, spread out)."""
    third = len(segments) // 3
    picks = [segments[third:2 * third], segments[2 * third:], segments[:third]]
    found = {text_cut(html, group) for group in picks if group}
    return tuple(sorted(cut for cut in found if cut is not None))[:most]


def text_cut(html: bytes, segments: list[str]) -> int | None:
    """Offset where one of the segments starts a paragraph of the page, or None.

    A segment counts only where it starts a text node in the body (right after a tag),
    outside scripts: the same words also sit in JSON-LD and meta descriptions.
    """
    lowered = html.lower()
    body_start = max(lowered.find(b"<body"), 0)
    for segment in segments:
        probe = " ".join(segment.split()[:5])
        if len(probe) < 15 or not probe.isascii():
            continue
        needle = probe.encode()
        at = html.find(needle, body_start)
        while at != -1:
            before = html[max(0, at - 300):at].rstrip()
            in_script = lowered.rfind(b"<script", 0, at) > lowered.rfind(b"</script", 0, at)
            if before.endswith(b">") and not in_script:
                return at
            at = html.find(needle, at + 1)
    return None


def generated_pages(*, light: bool, seed: int, count: int = 60) -> list[BasePage]:
    """Template pages: a news layout whose weight is mostly markup, like the real thing
    (median around 115 KB, text a few KB); `light` pages are about 10 KB."""
    rng = random.Random(seed)
    pages = []
    for index in range(count):
        lang = "es" if index % 3 == 0 else "en"
        words = _WORDS_ES if lang == "es" else _WORDS_EN
        paragraphs = [" ".join(rng.choice(words) for _ in range(rng.randint(40, 90))).capitalize()
                      + "." for _ in range(rng.randint(4, 12))]
        markup_kb = 4 if light else int(min(600, rng.lognormvariate(4.6, 0.5)))
        script = "<script>var cfg=" + json.dumps(
            {f"k{i}": "x" * 60 for i in range(markup_kb * 1024 // 70)}) + ";</script>"
        nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(40))
        title = f"Generated story {index}: " + " ".join(words[index % 20: index % 20 + 6])
        head = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
                f"<title>{title}</title>{script}</head><body><header><nav><ul>{nav}</ul>"
                f"</nav></header><main><article><h1>{title}</h1><p>")
        tail = ("</p>" + "".join(f"<p>{p}</p>" for p in paragraphs[1:])
                + "</article></main><footer><p>All rights reserved.</p></footer></body></html>")
        body = (head + paragraphs[0] + tail).encode()
        pages.append(BasePage(body=body, cuts=(len(head.encode()),), title=title, lang=lang))
    return pages


# -- the server -----------------------------------------------------------------------------

class _Counters:
    KINDS = ("feed", "feed_not_modified", "feed_failed", "page", "page_failed", "robots",
             "not_found", "bytes")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.values = dict.fromkeys(self.KINDS, 0)
        self.cpu_start = time.process_time()

    def snapshot(self) -> dict[str, float]:
        return {**self.values, "server_cpu_s": round(time.process_time() - self.cpu_start, 3)}


class _HostProtocol(asyncio.Protocol):
    """Minimal HTTP/1.1 with keep-alive: GET only, bodies from `Site`."""

    def __init__(self, server: _Server, host: int) -> None:
        self.server, self.host = server, host
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._next()

    def _next(self) -> None:
        if self.busy or b"\r\n\r\n" not in self.buffer:
            return
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.busy = True
        reply = self.server.answer(self.host, parts[1] if len(parts) > 1 else "/", headers)
        delay = self.server.delay(self.host)
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self._send, reply)

    def _send(self, reply: tuple[int, dict[str, str], bytes] | None) -> None:
        self.busy = False
        if self.transport is None:
            return
        if reply is None:  # a failing host drops the connection without answering
            self.transport.close()
            return
        status, headers, body = reply
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}",
                 f"content-length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        self.server.counters.values["bytes"] += len(body)
        self._next()


_REASONS = {200: "OK", 304: "Not Modified", 404: "Not Found", 503: "Service Unavailable"}


class _Server:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.site = Site(plan)
        self.counters = _Counters()
        self.base_urls: dict[int, str] = {}
        self.last_modified = feed_last_modified(plan)
        self.last_modified_at = parsedate_to_datetime(self.last_modified)

    def delay(self, host: int) -> float:
        return self.plan.slow_latency_s if self.plan.is_slow(host) else self.plan.latency_s

    def answer(self, host: int, path: str, headers: dict[str, str]
               ) -> tuple[int, dict[str, str], bytes] | None:
        counts = self.counters.values
        path = path.split("?", 1)[0]
        if path == "/robots.txt":
            counts["robots"] += 1
            return 200, {"content-type": "text/plain"}, ROBOTS_TXT
        if path.startswith("/feeds/") and path.endswith(".xml"):
            return self.answer_feed(host, int(path[7:-4]), headers)
        if path.startswith("/news/") and path.endswith(".html"):
            page = int(path[6:-5])
            if self.plan.pages_fail(host):
                counts["page_failed"] += 1
                return None
            if page < self.plan.pages_total:
                counts["page"] += 1
                return 200, {"content-type": "text/html"}, self.site.page_body(page)
        counts["not_found"] += 1
        return 404, {"content-type": "text/plain"}, b"not found"

    def answer_feed(self, host: int, feed: int, headers: dict[str, str]
                    ) -> tuple[int, dict[str, str], bytes]:
        counts = self.counters.values
        if self.plan.feed_fails(host):
            counts["feed_failed"] += 1
            return 503, {"content-type": "text/plain"}, b"try later"
        etag = feed_etag(self.plan, feed)
        validators = {"etag": etag, "last-modified": self.last_modified}
        if self.is_unchanged(headers, etag):
            counts["feed_not_modified"] += 1
            return 304, validators, b""
        counts["feed"] += 1
        body = self.site.feed_xml(feed, self.base_urls[host])
        return 200, {"content-type": "application/rss+xml", **validators}, body

    def is_unchanged(self, headers: dict[str, str], etag: str) -> bool:
        if "if-none-match" in headers:
            return etag in [tag.strip() for tag in headers["if-none-match"].split(",")]
        since = headers.get("if-modified-since")
        if since:
            with contextlib.suppress(TypeError, ValueError):
                return parsedate_to_datetime(since) >= self.last_modified_at
        return False

    async def serve(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        servers = []
        for host in range(self.plan.hosts):
            server = await loop.create_server(
                lambda host=host: _HostProtocol(self, host), self.plan.address(host), 0,
                backlog=256,
            )
            port = server.sockets[0].getsockname()[1]
            self.base_urls[host] = f"http://{self.plan.address(host)}:{port}"
            servers.append(server)
        conn.send(("ready", self.base_urls, self.site.source, len(self.site.bases)))
        stopped = loop.create_future()

        def on_command() -> None:
            try:
                command = conn.recv()
            except (EOFError, OSError):
                command = "stop"
            if command == "stats":
                conn.send(self.counters.snapshot())
            elif command == "reset":
                self.counters.reset()
                conn.send("ok")
            elif not stopped.done():
                stopped.set_result(None)

        loop.add_reader(conn.fileno(), on_command)
        await stopped
        for server in servers:
            server.close()


def _server_main(plan: Plan, conn: Connection) -> None:
    asyncio.run(_Server(plan).serve(conn))


class Internet:
    """The server process for one plan; a context manager."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.base_urls: dict[int, str] = {}
        self.page_source = ""
        self.base_pages = 0
        self._conn: Connection | None = None
        self._process: Any = None

    def __enter__(self) -> Self:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_server_main, args=(self.plan, child),
                                        name="bench-internet", daemon=True)
        self._process.start()
        child.close()
        if not self._conn.poll(120):
            raise RuntimeError("bench: the loopback internet did not start")
        _, self.base_urls, self.page_source, self.base_pages = self._conn.recv()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()

    @property
    def pid(self) -> int:
        return self._process.pid

    def sources(self) -> list[Source]:
        """One rss Source per feed."""
        out = []
        for feed in range(self.plan.feeds):
            host = self.plan.host_of_feed(feed)
            url = self.base_urls[host] + f"/feeds/{feed}.xml"
            out.append(Source(name=f"bench feed {feed:05d}", url=url, kind="rss"))
        return out

    def stats(self) -> dict[str, float]:
        self._conn.send("stats")
        return self._conn.recv()

    def reset(self) -> None:
        self._conn.send("reset")
        self._conn.recv()


def conditional_requests(net: Internet) -> list[tuple[str, str, str]]:
    """(url, etag, last-modified) of every feed that answers: a bare conditional re-poll."""
    last_modified = feed_last_modified(net.plan)
    return [(source.url, feed_etag(net.plan, feed), last_modified)
            for feed, source in enumerate(net.sources())
            if not net.plan.feed_fails(net.plan.host_of_feed(feed))]
