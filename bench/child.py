"""One measured task in a fresh interpreter: `python -m bench.child < task.json`.

Tasks (`mode`):
- `cycle`: one `run_cycle` over the given sources into the given database;
- `bare-extract`: trafilatura alone over the plan's good pages, in a pool of worker
  processes (the P1 baseline);
- `conditional-gets`: bare conditional GETs of the given URLs (the P2 baseline).

The last line of stdout is the result as JSON; times exclude interpreter start-up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import resource
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any


def cycle(task: dict[str, Any]) -> dict[str, Any]:
    from pipeline.config import load_settings
    from pipeline.ingest.cycle import run_cycle
    from pipeline.models import Source

    sources = [Source(name=name, url=url, kind="rss") for name, url in task["sources"]]
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-home-") as home:
        settings = load_settings(
            env={"NEWSMON_HOME": home}, database_url=task["db_url"],
            allow_private_networks=True, extract_workers=task["workers"],
            **task.get("settings", {}),
        )
        profiler = _profiler(task.get("profile"))
        started = time.perf_counter()
        summary = run_cycle(settings, sources=sources, db_url=task["db_url"])
        seconds = time.perf_counter() - started
        if profiler is not None:
            profiler.stop()
            _save_profile(profiler, task["profile"])
    return {"seconds": seconds, "summary": summary.as_dict(), "errors": summary.errors[:5]}


def _profiler(path: str | None) -> Any:
    if not path:
        return None
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    return profiler


def _save_profile(profiler: Any, path: str) -> None:
    with open(path + ".txt", "w", encoding="utf-8") as out:
        out.write(profiler.output_text(unicode=True, color=False, show_all=False))
    with open(path + ".html", "w", encoding="utf-8") as out:
        out.write(profiler.output_html())


# -- P1 baseline: trafilatura alone -------------------------------------------------------------

def _start_worker() -> None:
    from pipeline.extract.pool import WARM_UP_PAGE

    _bare_extract(WARM_UP_PAGE, "http://warm-up.invalid/")  # same warm-up as the pipeline


def _bare_extract(body: bytes, url: str) -> int:
    import trafilatura

    from pipeline.extract.page import DATE_PARAMS, PRECISION_OPTIONS

    # One pass with the pipeline's own options (metadata included), nothing else.
    doc = trafilatura.bare_extraction(body, url=url, with_metadata=True,
                                      date_extraction_params=DATE_PARAMS, **PRECISION_OPTIONS)
    return len(doc.text or "") if doc is not None else 0


def _ready() -> bool:
    time.sleep(0.2)  # held long enough that every worker gets one
    return True


def bare_extract(task: dict[str, Any]) -> dict[str, Any]:
    from bench.internet import Plan, Site

    plan = Plan(**task["plan"])
    site = Site(plan)
    workers = task["workers"]
    context = multiprocessing.get_context("forkserver")
    chars = 0
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker) as pool:
        for done in [pool.submit(_ready) for _ in range(2 * workers)]:
            done.result()
        started = time.perf_counter()
        in_flight: set[Future[int]] = set()
        for page in plan.good_pages():
            if len(in_flight) >= 2 * workers:  # bounded, like the pipeline's pool
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                chars += sum(f.result() for f in finished)
            in_flight.add(pool.submit(_bare_extract, site.page_body(page), f"http://b/{page}"))
        chars += sum(f.result() for f in in_flight)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "pages": len(plan.good_pages()), "chars": chars}


# -- P2 baseline: bare conditional GETs -------------------------------------------------------

def conditional_gets(task: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_conditional_gets(task))


async def _conditional_gets(task: dict[str, Any]) -> dict[str, Any]:
    import httpx

    concurrency, per_host = task["concurrency"], task["per_host"]
    started = time.perf_counter()
    statuses: Counter[int] = Counter()
    slots = asyncio.Semaphore(concurrency)
    hosts: dict[str, asyncio.Semaphore] = {}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency),
                                 trust_env=False) as client:

        async def get(url: str, etag: str, last_modified: str) -> None:
            host = hosts.setdefault(httpx.URL(url).host, asyncio.Semaphore(per_host))
            async with host, slots:
                response = await client.get(url, headers={"if-none-match": etag,
                                                          "if-modified-since": last_modified})
                statuses[response.status_code] += 1

        await asyncio.gather(*(get(*request) for request in task["requests"]))
    return {"seconds": time.perf_counter() - started, "statuses": dict(statuses)}


MODES = {"cycle": cycle, "bare-extract": bare_extract, "conditional-gets": conditional_gets}


def main() -> None:
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    task = json.loads(sys.stdin.read())
    result = MODES[task["mode"]](task)
    result["main_maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
