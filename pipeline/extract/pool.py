"""`ExtractPool`: extraction in worker processes, so the event loop keeps fetching while lxml
works, and a page that makes the extractor spin is killed after `timeout_s` instead of
stalling the run. The cycle parses feeds and sitemaps in the same workers
(`ExtractPool.call`), for the same reasons; each worker's memory is capped.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import resource
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Self

from pipeline.extract.page import ExtractError, extract_article
from pipeline.models import Article

log = logging.getLogger(__name__)

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
