"""ExtractPool: real worker processes, a per-page time limit, and recovery from stuck workers."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from pipeline.extract.page import ExtractError, extract_article
from pipeline.extract.pool import ExtractPool
from pipeline.models import Article

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"
URL = "https://diario.example/a"


HOG_BYTES = 1536 << 20  # more than the 1 GB limit below; calloc'd, so never touched
MEMORY_LIMIT = 1 << 30


def hog() -> int:
    # Zeroed pages are mapped lazily: without a limit this succeeds and costs nothing.
    return len(bytes(HOG_BYTES))


def misbehaving_extract(body: bytes, *, url: str, content_type: str | None) -> Article:
    """extract_article, except for pages that tell the worker to hang, die, raise or hog.

    Module-level so worker processes can import it by name.
    """
    if body.startswith(b"HANG "):
        Path(body[5:].decode()).write_text(str(os.getpid()))
        time.sleep(3600)
    if body == b"DIE":
        os._exit(3)
    if body == b"RAISE":
        raise ValueError("boom")
    if body == b"HOG":
        hog()
    return extract_article(body, url=url, content_type=content_type)


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_for_file(path: Path) -> None:
    while not path.exists() or not path.read_text():
        await asyncio.sleep(0.05)


def test_pool_extracts_the_same_article_as_in_process() -> None:
    async def main() -> list[Article]:
        async with ExtractPool(2, timeout_s=60, warm_up=False) as pool:
            names = ["es_metadata.html", "es_mojibake.html", "en_paywall.html", "es_teaser.html"]
            return await asyncio.gather(*(pool.extract(page(n), url=URL) for n in names))

    articles = asyncio.run(main())
    assert articles[0] == extract_article(page("es_metadata.html"), url=URL)
    assert [a.title for a in articles[1:]] == [
        "Venezuela defiende su soberanía ante Estados Unidos",
        "US strikes another suspected drug boat off Venezuela",
        "Detienen a presuntos miembros del Tren de Aragua en Zulia",
    ]


def test_stuck_page_times_out_its_worker_is_killed_and_the_pool_keeps_working(tmp_path) -> None:
    pidfile = tmp_path / "stuck.pid"

    async def main() -> tuple[ExtractError, Article, int]:
        async with ExtractPool(1, timeout_s=2, extract_fn=misbehaving_extract,
                               warm_up=False) as pool:
            with pytest.raises(ExtractError) as caught:
                await pool.extract(b"HANG " + str(pidfile).encode(), url=URL)
            # one worker only: this page can only succeed on a replacement
            article = await pool.extract(page("es_metadata.html"), url=URL)
            return caught.value, article, pool.replaced

    error, article, replaced = asyncio.run(main())
    assert error.kind == "timeout"
    assert str(error) == f"extract: timed out after 2 s ({URL})"
    assert not is_running(int(pidfile.read_text()))
    assert replaced == 1
    assert "Tren de Aragua" in article.text


def test_worker_that_dies_is_reported_and_replaced() -> None:
    async def main() -> tuple[ExtractError, Article]:
        async with ExtractPool(1, timeout_s=60, extract_fn=misbehaving_extract,
                               warm_up=False) as pool:
            with pytest.raises(ExtractError) as caught:
                await pool.extract(b"DIE", url=URL)
            return caught.value, await pool.extract(page("es_teaser.html"), url=URL)

    error, article = asyncio.run(main())
    assert error.kind == "crashed"
    assert str(error).startswith("extract: worker crashed")
    assert article.title == "Detienen a presuntos miembros del Tren de Aragua en Zulia"


def test_exception_in_extraction_is_an_extract_error_and_keeps_the_worker() -> None:
    async def main() -> tuple[ExtractError, ExtractError, int]:
        async with ExtractPool(1, timeout_s=60, extract_fn=misbehaving_extract,
                               warm_up=False) as pool:
            with pytest.raises(ExtractError) as boom:
                await pool.extract(b"RAISE", url=URL)
            with pytest.raises(ExtractError) as empty:
                await pool.extract(page("empty_shell.html"), url=URL)
            return boom.value, empty.value, pool.replaced

    boom, empty, replaced = asyncio.run(main())
    assert (boom.kind, str(boom)) == ("error", f"extract: ValueError: boom ({URL})")
    assert (empty.kind, str(empty)) == ("no-text", f"extract: no main text found ({URL})")
    assert replaced == 0


def test_page_past_the_memory_limit_fails_alone_and_the_next_one_extracts() -> None:
    async def main() -> tuple[ExtractError, Article, int]:
        async with ExtractPool(1, timeout_s=60, extract_fn=misbehaving_extract,
                               warm_up=False, memory_limit=MEMORY_LIMIT) as pool:
            with pytest.raises(ExtractError) as caught:
                await pool.extract(b"HOG", url=URL)
            # one worker only: this page runs on the replacement, under the same limit
            return caught.value, await pool.extract(page("es_teaser.html"), url=URL), \
                pool.replaced

    error, article, replaced = asyncio.run(main())
    assert (error.kind, str(error)) == (
        "memory", f"extract: out of memory (worker limit 1024 MB) ({URL})")
    assert article.title == "Detienen a presuntos miembros del Tren de Aragua en Zulia"
    assert replaced == 1


def test_a_job_run_in_a_worker_returns_its_result_or_raises_its_own_error() -> None:
    async def main() -> tuple[int, ValueError, ExtractError]:
        async with ExtractPool(1, timeout_s=60, warm_up=False,
                               memory_limit=MEMORY_LIMIT) as pool:
            answer = await pool.call(int, "42")
            with pytest.raises(ValueError) as raised:
                await pool.call(int, "forty-two")
            with pytest.raises(ExtractError) as hogged:
                await pool.call(hog)
            return answer, raised.value, hogged.value

    answer, raised, hogged = asyncio.run(main())
    assert answer == 42
    assert type(raised) is ValueError and "forty-two" in str(raised)
    assert (hogged.kind, str(hogged)) == (
        "memory", f"extract: out of memory (worker limit 1024 MB) ({__name__}.hog)")


def test_cancelled_page_does_not_leak_its_answer_to_the_next_page(tmp_path) -> None:
    pidfile = tmp_path / "cancelled.pid"

    async def main() -> tuple[Article, int]:
        async with ExtractPool(1, timeout_s=60, extract_fn=misbehaving_extract,
                               warm_up=False) as pool:
            stuck = asyncio.create_task(pool.extract(b"HANG " + str(pidfile).encode(), url=URL))
            await wait_for_file(pidfile)
            stuck.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stuck
            return await pool.extract(page("es_teaser.html"), url=URL), pool.replaced

    article, replaced = asyncio.run(main())
    assert article.title == "Detienen a presuntos miembros del Tren de Aragua en Zulia"
    assert replaced == 1
    assert not is_running(int(pidfile.read_text()))


def test_pool_must_be_started_and_stops_its_workers() -> None:
    pool = ExtractPool(1, timeout_s=60, warm_up=False)
    with pytest.raises(RuntimeError, match="not started"):
        asyncio.run(pool.extract(b"<html></html>", url=URL))
    with pool:
        processes = [w.process for w in pool._pool]
        article = asyncio.run(pool.extract(page("es_teaser.html"), url=URL))
    assert article.lang == "es"
    assert not any(p.is_alive() for p in processes)
