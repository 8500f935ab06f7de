"""HTTP CPU per request: `HttpClient.fetch` against a bare `httpx.AsyncClient` GET.

    python bench/bench_http.py [--requests 2000] [--repeat 5] [--profile]

Both sides send the same conditional GETs (the re-poll of an unchanged feed: If-None-Match
and If-Modified-Since, answered 304) to one loopback server, with the same concurrency and
the same connection limits, so both reuse their keep-alive connections the same way:

- baseline: `httpx.AsyncClient.get`, httpx's defaults (no proxy from the environment);
- measured: `HttpClient.fetch`, everything newsmon adds: politeness slots, the request
  deadline, the SSRF check (IP literal up front, every connection at connect time), the
  capped body read, redirect and retry bookkeeping.

The server runs in its own process, so `time.process_time` of this process is the
client's CPU alone. Sides alternate; the median run of each counts. `--profile` runs
cProfile over one measured run and groups its CPU by package (pipeline.http, httpx,
httpcore, anyio/h11, asyncio).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
# In place of this script's own directory, whose profile.py would shadow the stdlib's.
sys.path[0] = str(ROOT)

from bench.harness import median
from pipeline.config import load_settings
from pipeline.http import HttpClient

CONCURRENCY = 8
ETAG = '"v1"'
LAST_MODIFIED = "Sat, 05 Dec 2026 10:00:00 GMT"


# -- the server: HTTP/1.1 keep-alive, 304 to a conditional GET, in its own process ------------

async def _serve(ready: Any) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if b"if-none-match" in head.lower():
                    writer.write(b"HTTP/1.1 304 Not Modified\r\netag: " + ETAG.encode()
                                 + b"\r\ncontent-length: 0\r\n\r\n")
                else:
                    body = b"<rss><channel><title>t</title></channel></rss>"
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/rss+xml\r\n"
                                 b"etag: " + ETAG.encode() + b"\r\ncontent-length: "
                                 + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
    ready.send(server.sockets[0].getsockname()[1])
    await server.serve_forever()


def _server_main(ready: Any) -> None:
    asyncio.run(_serve(ready))


class Server:
    def __enter__(self) -> str:
        parent, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(target=_server_main, args=(child,), daemon=True)
        self._process.start()
        return f"http://127.0.0.1:{parent.recv()}/feed.xml"

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join(5)


# -- the two clients --------------------------------------------------------------------------

async def _many(get: Any, url: str, count: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    queue = iter(range(count))

    async def worker() -> None:
        for _ in queue:
            statuses[await get(url)] += 1

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return statuses


async def bare(url: str, count: int) -> Counter[int]:
    headers = {"if-none-match": ETAG, "if-modified-since": LAST_MODIFIED}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONCURRENCY),
                                 trust_env=False) as client:
        async def get(u: str) -> int:
            return (await client.get(u, headers=headers)).status_code

        return await _many(get, url, count)


async def newsmon(url: str, count: int) -> Counter[int]:
    settings = load_settings(env={}, allow_private_networks=True, concurrency=CONCURRENCY,
                             per_host_concurrency=CONCURRENCY)
    async with HttpClient(settings) as client:
        async def get(u: str) -> int:
            return (await client.fetch(u, etag=ETAG, last_modified=LAST_MODIFIED)).status

        return await _many(get, url, count)


SIDES = {"bare httpx": bare, "HttpClient": newsmon}


def run_once(side: str, url: str, count: int) -> dict[str, Any]:
    cpu, wall = time.process_time(), time.perf_counter()
    statuses = asyncio.run(SIDES[side](url, count))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if statuses != {304: count}:
        raise RuntimeError(f"{side}: unexpected answers {dict(statuses)}")
    return {"cpu_us": cpu / count * 1e6, "wall_us": wall / count * 1e6}


def measure(url: str, *, count: int, repeat: int) -> dict[str, Any]:
    for side in SIDES:  # warm-up: imports, first connections
        run_once(side, url, min(count, 200))
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for _ in range(repeat):
        for side in SIDES:
            runs[side].append(run_once(side, url, count))
    out: dict[str, Any] = {"requests": count, "concurrency": CONCURRENCY, "repeat": repeat}
    for side, name in (("bare httpx", "baseline"), ("HttpClient", "measured")):
        out[f"{name}_cpu_us"] = round(median([r["cpu_us"] for r in runs[side]]), 1)
        out[f"{name}_wall_us"] = round(median([r["wall_us"] for r in runs[side]]), 1)
    out["ratio"] = round(out["measured_cpu_us"] / out["baseline_cpu_us"], 3)
    return out


# -- where the CPU goes -------------------------------------------------------------------------

GROUPS = (("pipeline/http", "pipeline.http"), ("httpcore", "httpcore"), ("httpx", "httpx"),
          ("h11", "h11"), ("anyio", "anyio"), ("asyncio", "asyncio"))


def profile(url: str, count: int) -> dict[str, float]:
    """Own (tottime) CPU per request in microseconds, grouped by package."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(newsmon(url, count))
    profiler.disable()
    stats = pstats.Stats(profiler)
    groups: Counter[str] = Counter()
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        group = next((name for pattern, name in GROUPS if pattern in filename), "other")
        groups[group] += tottime
    stats.sort_stats("tottime").print_stats(25)
    return {group: round(seconds / count * 1e6, 1) for group, seconds in groups.most_common()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true",
                        help="cProfile one HttpClient run and group its CPU by package")
    args = parser.parse_args()
    with Server() as url:
        if args.profile:
            print(json.dumps(profile(url, args.requests)))
            return 0
        result = measure(url, count=args.requests, repeat=args.repeat)
    print(f"CPU per request: bare httpx {result['baseline_cpu_us']:.0f} us, "
          f"HttpClient {result['measured_cpu_us']:.0f} us, ratio {result['ratio']:.2f}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
