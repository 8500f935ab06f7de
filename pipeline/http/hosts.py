"""Politeness: how many requests may run at once, per host and in total, and when.

A request takes, in order: a slot of its host (at most `per_host_concurrency` at once), its
host's turn to start (starts are at least `per_host_delay_s` apart, or the host's own pace
if it is slower, later if the host sent a Retry-After), then a global slot. Waiting for a
host never holds a global slot, so a slow or throttled host cannot starve the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass(slots=True)
class Host:
    slots: asyncio.Semaphore
    starting: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0  # time.monotonic() before which no request may start
    blocked_until: float = 0.0  # the host asked us to stay away longer than we wait
    blocked_reason: str = ""
    blocked_status: int | None = None
    # This host's own spacing between request starts, when it asks for more than every
    # host gets (`HttpClient.pace`): e.g. Google News, whose lookups come in bursts.
    delay_s: float = 0.0

    def hold_off(self, seconds: float) -> None:
        """Delay every later request to this host (Retry-After)."""
        self.next_start = max(self.next_start, time.monotonic() + seconds)

    def block(self, seconds: float, *, reason: str, status: int | None) -> None:
        """Refuse every request to this host for `seconds` (a Retry-After too long to wait)."""
        self.blocked_until = max(self.blocked_until, time.monotonic() + seconds)
        self.blocked_reason, self.blocked_status = reason, status

    @property
    def is_blocked(self) -> bool:
        return time.monotonic() < self.blocked_until


class Politeness:
    def __init__(self, *, concurrency: int, per_host: int, delay_s: float) -> None:
        if concurrency < 1 or per_host < 1:
            raise ValueError("fetch: concurrency limits must be at least 1")
        self._global = asyncio.Semaphore(concurrency)
        self._per_host = per_host
        self._delay_s = delay_s
        self._hosts: dict[str, Host] = {}

    def host(self, name: str) -> Host:
        if name not in self._hosts:
            self._hosts[name] = Host(slots=asyncio.Semaphore(self._per_host))
        return self._hosts[name]

    @contextlib.asynccontextmanager
    async def turn(self, name: str) -> AsyncIterator[None]:
        """Wait until a request to host `name` may start; hold its slots while it runs."""
        host = self.host(name)
        async with host.slots:
            async with host.starting:  # one request at a time decides when it starts
                while (wait := host.next_start - time.monotonic()) > 0:
                    await asyncio.sleep(wait)  # re-check: a Retry-After may push it further
                await self._global.acquire()
                host.next_start = time.monotonic() + max(self._delay_s, host.delay_s)
            try:
                yield
            finally:
                self._global.release()
