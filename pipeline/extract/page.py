"""Page bytes -> `Article`: decode, trafilatura's main text and metadata, repaired text.

`extract_article` is the whole stage for one page. `ExtractPool` runs it in worker
processes so the event loop keeps fetching while lxml works, and so a page that makes
the extractor spin is killed after `timeout_s` instead of stalling the run. The cycle
parses feeds and sitemaps in the same workers (`ExtractPool.call`), for the same reasons.
`classify_fulltext` says whether what came out is the article or only part of it.
The choice of trafilatura options is measured and explained in docs/decisions.md.
"""

from __future__ import annotations

import asyncio
import html
import logging
import multiprocessing
import os
import re
import resource
import signal
from collections.abc import Callable
from datetime import datetime, time, timedelta
from multiprocessing.connection import Connection
from typing import Any, Self
from urllib.parse import urljoin

import htmldate
import nh3
import trafilatura
from lxml.html import HtmlElement
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
# Precision mode now and then finds no article or settles on one wrong small block (a
# reprints notice); a short result is the symptom. Retry once with trafilatura's default
# balanced cascade and keep that only if it is clearly longer. About one page in ten is
# retried; scores are flat for thresholds of 500-2000 characters and gains of 1.5-3.
RETRY_OPTIONS: dict[str, Any] = {**PRECISION_OPTIONS, "favor_precision": False, "fast": False}
RETRY_BELOW_CHARS = 500
RETRY_GAIN = 2.0
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
    text, doc = main_text(tree, url=url)
    text = repair_mojibake(text)
    if doc is None or not text.strip():
        raise ExtractError("no main text found", url=url)
    return Article(
        url=url,
        canonical_url=url,
        title=clean_title(doc.title),
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
    )


def main_text(tree: HtmlElement, *, url: str) -> tuple[str, Document | None]:
    """The main text and trafilatura's document (metadata) for a parsed page.

    trafilatura works on a copy of the tree, so the caller's tree stays intact.
    """
    doc = trafilatura.bare_extraction(
        tree, url=url, with_metadata=True, date_extraction_params=DATE_PARAMS,
        **PRECISION_OPTIONS,
    )
    text = doc.text or "" if doc is not None else ""
    if len(text) < RETRY_BELOW_CHARS:
        retry = trafilatura.bare_extraction(
            tree, url=url, with_metadata=doc is None, date_extraction_params=DATE_PARAMS,
            **RETRY_OPTIONS,
        )
        if retry is not None and len(retry.text or "") > RETRY_GAIN * len(text):
            text, doc = retry.text or "", doc or retry
    return text, doc


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


# --- teaser and paywall flags ---------------------------------------------------------

TAIL_CHARS = 300  # prompts sit at the end of what a paywalled page shows
_PAYWALL = re.compile(
    r"subscribe (?:now )?to (?:continue|keep) reading|subscribe to read|subscribers? only"
    r"|for subscribers|already (?:a subscriber|have an account)|become a (?:subscriber|member)"
    r"|(?:sign|log) in to (?:continue|read)|create a free account|free articles? (?:left|limit)"
    r"|reached your (?:free )?(?:article|story) limit|start your free trial"
    r"|suscr[íi]b[ea]te (?:para|y) (?:seguir|continuar)|exclusivo para (?:suscriptores|socios)"
    r"|ya eres (?:suscriptor|socio)|hazte (?:suscriptor|socio)|suscr[íi]bete ahora"
    r"|inicia sesi[óo]n para (?:seguir|continuar|leer)",
    re.IGNORECASE,
)
_READ_MORE = re.compile(
    r"(?:read more|continue reading|keep reading|read the (?:full|whole|rest of the) "
    r"(?:story|article)|full story|leer m[áa]s|seguir leyendo|continuar leyendo|ver m[áa]s"
    r"|lee (?:la nota|el art[íi]culo|la noticia) completa|\[(?:…|\.\.\.)\]|…|\.\.\.)"
    r"[\s»›→>.:)\]]*$",
    re.IGNORECASE,
)
SUMMARY_RATIO = 0.8  # text shorter than this share of the feed's own summary is a teaser
BASELINE_RATIO = 0.25  # ... or than this share of the source's usual article length
MIN_WORDS = 5  # fewer words than this is no text at all (a "Loading..." shell)


def classify_fulltext(*, text: str, feed_summary: str | None, baseline_chars: int | None) -> str:
    """Say whether an extraction is the article: "full", "teaser", "paywalled" or "failed".

    `baseline_chars` is the source's typical full-text length (e.g. a median of past
    "full" extractions), None while a source has no history.
    """
    text = text.strip()
    if len(text.split()) < MIN_WORDS:
        return "failed"
    tail = text[-TAIL_CHARS:]
    if _PAYWALL.search(tail):
        return "paywalled"
    if _READ_MORE.search(tail):
        return "teaser"
    summary = summary_text(feed_summary)
    if summary and len(text) < SUMMARY_RATIO * len(summary):
        return "teaser"
    if baseline_chars and len(text) < BASELINE_RATIO * baseline_chars:
        return "teaser"
    return "full"


def summary_text(summary: str | None) -> str:
    """A feed summary as plain text (feeds often send HTML)."""
    if not summary:
        return ""
    if "<" in summary:
        summary = nh3.clean(summary, tags=set())
    return " ".join(html.unescape(summary).split())


# --- worker pool ----------------------------------------------------------------------

ExtractFn = Callable[..., Article]

# A small page whose only date is in words: running it once in each new worker loads
# trafilatura's lazy parts and dateparser's locale tables (about a second and a half),
# so that cost is paid at start-up and never counted against a real page's timeout.
WARM_UP_PAGE = (
    b"<html lang='es'><head><title>Calentamiento</title></head><body><article>"
    b"<h1>Calentamiento</h1><p>Publicado el 5 de mayo de 2022</p>"
    + b"<p>Este p\xc3\xa1rrafo existe para que el extractor encuentre texto suficiente.</p>" * 3
    + b"</article></body></html>"
)


def _worker_main(conn: Connection, extract_fn: ExtractFn, warm_up: bool,
                 memory_limit: int) -> None:
    """Worker process loop: (fn, args, kwargs) in, ("ok", result) or ("err", ...) out.

    `fn` None is a page for `extract_fn`; any other function is the caller's own job
    (`ExtractPool.call`), whose exception goes back as it is: ("raised", exception).
    """
    # Ctrl-C reaches the whole process group; shutting workers down is the parent's job.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_limit > 0:
        limit_memory(memory_limit)
    if warm_up:
        try:
            extract_fn(WARM_UP_PAGE, url="http://warm-up.invalid/", content_type=None)
        except Exception:  # a failed warm-up only costs speed later
            log.debug("extract worker warm-up failed", exc_info=True)
    conn.send(("ready",))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        fn, args, kwargs = job
        try:
            reply: tuple[Any, ...] = ("ok", (fn or extract_fn)(*args, **kwargs))
        except ExtractError as exc:
            reply = ("err", exc.kind, exc.message)
        except MemoryError:
            reply = ("err", "memory", f"out of memory (worker limit {memory_limit >> 20} MB)")
        except Exception as exc:  # noqa: BLE001 - one bad page must not end the worker
            reply = ("raised", exc) if fn else ("err", "error", f"{type(exc).__name__}: {exc}")
        _send_reply(conn, reply)


def limit_memory(max_bytes: int) -> None:
    """Cap this process's address space: past it an allocation fails (MemoryError) instead
    of the machine swapping or the kernel's OOM killer picking a victim."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        max_bytes = min(max_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (max_bytes, hard))


def _send_reply(conn: Connection, reply: tuple[Any, ...]) -> None:
    try:
        conn.send(reply)  # pickled before a byte is written: a failure sends nothing
    except Exception as exc:  # noqa: BLE001 - an exception or result that cannot be pickled
        what = reply[1] if reply[0] == "raised" else exc
        conn.send(("err", "error", f"{type(what).__name__}: {what}"))


class _Worker:
    __slots__ = ("conn", "process", "ready")

    def __init__(self, context: Any, extract_fn: ExtractFn, warm_up: bool,
                 memory_limit: int) -> None:
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child_conn, extract_fn, warm_up, memory_limit),
            name="newsmon-extract", daemon=True,
        )
        self.process.start()
        child_conn.close()
        self.ready = False

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def pool_context() -> Any:
    # forkserver: workers fork from a clean server that has trafilatura imported, so a
    # replacement after a timeout starts in milliseconds and inherits none of the parent's
    # threads or sockets (plain fork from an asyncio program with threads is unsafe).
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["pipeline.extract.page", "pipeline.sources"])
        return context
    return multiprocessing.get_context("spawn")


class ExtractPool:
    """A fixed set of extraction processes with a per-page time limit.

    Use as a context manager (`with` or `async with`); call `await pool.extract(...)`
    from any number of tasks: each waits for an idle worker, so at most `workers` pages
    are extracted at once. A page that runs past `timeout_s` raises ExtractError (kind
    "timeout") and its worker is killed and replaced; a worker that dies (kind "crashed")
    is replaced too. `memory_limit` (bytes, 0 for none) caps each worker's address space:
    a page that needs more fails alone (kind "memory") and its worker is replaced, as its
    heap may be left fragmented. `extract_fn` (a module-level function, as workers import
    it by name) replaces `extract_article`, for tests and benchmarks; `warm_up=False` skips
    the start-up extraction (tests with small pages do not need it). `call` runs any other
    module-level function in a worker under the same limits (the cycle's feed parsing).
    """

    def __init__(
        self,
        workers: int,
        timeout_s: float,
        *,
        extract_fn: ExtractFn = extract_article,
        warm_up: bool = True,
        memory_limit: int = 0,
    ) -> None:
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self.timeout_s = timeout_s
        self.memory_limit = memory_limit
        self._extract_fn = extract_fn
        self._warm_up = warm_up
        self._context = pool_context()
        self._pool: list[_Worker] = []
        self._idle: asyncio.Queue[_Worker] | None = None
        self._idle_loop: asyncio.AbstractEventLoop | None = None
        self.replaced = 0  # workers killed or lost and started again, for the run summary

    # -- lifecycle

    def start(self) -> Self:
        if not self._pool:
            self._pool = [self._new_worker() for _ in range(self.workers)]
        return self

    def close(self) -> None:
        pool, self._pool = self._pool, []
        for worker in pool:
            worker.stop()
        self._idle = self._idle_loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    async def wait_ready(self) -> None:
        """Wait until every worker has warmed up (benchmarks call this before timing)."""
        idle = self._idle_queue()
        workers = [idle.get_nowait() for _ in range(idle.qsize())]
        try:
            for worker in workers:
                await self._ensure_ready(worker)
        finally:
            for worker in workers:
                idle.put_nowait(worker)

    # -- work

    async def extract(
        self, body: bytes, *, url: str, content_type: str | None = None
    ) -> Article:
        """Extract one page in a worker process; raise ExtractError on failure or timeout."""
        reply = await self._run((None, (body,), {"url": url, "content_type": content_type}),
                                url=url)
        if reply[0] == "ok":
            return reply[1]
        _, kind, message = reply
        raise ExtractError(message, url=url, kind=kind)

    async def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` in a worker: its result, or its exception raised here.

        `fn` must be a module-level function (workers import it by name). A timeout, a
        dead worker or the memory limit raise ExtractError naming `fn`.
        """
        name = f"{fn.__module__}.{fn.__qualname__}"
        reply = await self._run((fn, args, kwargs), url=name)
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "raised":
            raise reply[1]
        _, kind, message = reply
        raise ExtractError(message, url=name, kind=kind)

    async def _run(self, job: tuple[Any, ...], *, url: str) -> tuple[Any, ...]:
        """One job on an idle worker; the worker's reply, or ExtractError if it gave none."""
        if not self._pool:
            raise RuntimeError("extract: pool is not started (use it as a context manager)")
        idle = self._idle_queue()
        worker = await idle.get()
        try:
            await self._ensure_ready(worker)
            worker.conn.send(job)
            reply = await asyncio.wait_for(_receive(worker.conn), self.timeout_s)
            if reply[:2] == ("err", "memory"):
                worker = self._replace(worker)
        except TimeoutError:
            worker = self._replace(worker)
            raise ExtractError(
                f"timed out after {self.timeout_s:g} s", url=url, kind="timeout"
            ) from None
        except (EOFError, OSError) as exc:
            worker = self._replace(worker)
            raise ExtractError(f"worker crashed ({exc!r})", url=url, kind="crashed") from None
        except Exception as exc:  # noqa: BLE001 - an answer that cannot be unpickled
            worker = self._replace(worker)
            raise ExtractError(f"unreadable worker answer ({exc!r})", url=url,
                               kind="crashed") from None
        except BaseException:
            # Cancelled mid-page: the worker's late answer would be taken for the next page.
            worker = self._replace(worker)
            raise
        finally:
            if worker in self._pool:
                idle.put_nowait(worker)
        return reply

    async def _ensure_ready(self, worker: _Worker) -> None:
        if worker.ready:
            return
        # Start-up (import + warm-up) is not a page's fault: allow it far more time.
        reply = await asyncio.wait_for(_receive(worker.conn), max(120.0, self.timeout_s))
        if reply != ("ready",):
            raise EOFError(f"unexpected start-up message {reply!r}")
        worker.ready = True

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        self.replaced += 1
        if worker not in self._pool:
            return worker
        fresh = self._new_worker()
        self._pool[self._pool.index(worker)] = fresh
        log.warning("extract: replaced worker pid %s", worker.process.pid)
        return fresh

    def _new_worker(self) -> _Worker:
        return _Worker(self._context, self._extract_fn, self._warm_up, self.memory_limit)

    def _idle_queue(self) -> asyncio.Queue[_Worker]:
        # Queues belong to one event loop; a pool reused under a new loop gets a new queue.
        loop = asyncio.get_running_loop()
        if self._idle is None or self._idle_loop is not loop:
            self._idle, self._idle_loop = asyncio.Queue(), loop
            for worker in self._pool:
                self._idle.put_nowait(worker)
        return self._idle


async def _receive(conn: Connection) -> Any:
    """Await one message from a worker without blocking the event loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def on_readable() -> None:
        loop.remove_reader(conn.fileno())
        if future.done():
            return
        try:
            future.set_result(conn.recv())
        except Exception as exc:  # noqa: BLE001 - EOF from a dead worker, or an unreadable answer
            future.set_exception(exc)

    loop.add_reader(conn.fileno(), on_readable)
    try:
        return await future
    finally:
        if not conn.closed:
            loop.remove_reader(conn.fileno())
