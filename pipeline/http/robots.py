"""robots.txt for article pages: fetched once per site (scheme, host, port) and cached."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.robotparser import RobotFileParser

import httpx

from pipeline.http.errors import FetchError

log = logging.getLogger(__name__)


class _Fetched(Protocol):
    status: int
    body: bytes


class RobotsCache:
    """Answers "may we fetch this URL?" from each site's robots.txt.

    `load(url)` fetches a robots.txt through the same client (guard, caps, politeness).
    Concurrent questions about one site share one download.
    """

    def __init__(self, load: Callable[[httpx.URL], Awaitable[_Fetched]], *, user_agent: str):
        self._load = load
        self._user_agent = user_agent
        self._sites: dict[str, asyncio.Task[RobotFileParser]] = {}

    async def allows(self, url: httpx.URL) -> bool:
        site = f"{url.scheme}://{url.netloc.decode('ascii')}"
        task = self._sites.get(site)
        if task is None:
            task = asyncio.ensure_future(self._rules(httpx.URL(site + "/robots.txt")))
            self._sites[site] = task
        # shield: one impatient caller being cancelled must not cancel the shared download
        rules = await asyncio.shield(task)
        return rules.can_fetch(self._user_agent, str(url))

    def close(self) -> None:
        for task in self._sites.values():
            task.cancel()

    async def _rules(self, robots_url: httpx.URL) -> RobotFileParser:
        rules = RobotFileParser(str(robots_url))
        try:
            fetched = await self._load(robots_url)
        except FetchError as exc:
            # 4xx: no robots.txt, everything allowed (RFC 9309). 5xx or unreachable: RFC 9309
            # says assume everything is disallowed; we allow instead, because a flaky robots.txt
            # would then silently drop every article from that site for the whole run, and the
            # page fetch that follows meets the same server and fails or succeeds on its own.
            log.info("fetch: robots.txt unavailable, allowing all: %s", exc)
            rules.allow_all = True
            return rules
        if fetched.status == 304 or not (200 <= fetched.status < 300):
            rules.allow_all = True
            return rules
        rules.parse(fetched.body.decode("utf-8", errors="replace").splitlines())
        return rules
