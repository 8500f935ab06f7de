"""The SSRF check at connect time: resolve once, vet every address, connect to a vetted one.

`GuardedBackend` is an httpcore network backend, so every connection the client opens (each
redirect hop, each retry, each robots.txt fetch) passes it; there is no second lookup for a
rebinding DNS server to answer differently. Only the TCP connection uses the IP literal:
httpcore still starts TLS with server_hostname = the URL's host, so SNI, certificate checks
and the Host header stay on the name.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence

import anyio
import httpcore
import httpx

from pipeline.http.guard import AddressPolicy, IPAddress, RefusedAddress

# host, port -> the addresses it resolves to (tests pass their own to play a DNS server)
Resolve = Callable[[str, int], Awaitable[Sequence[str]]]


async def resolve_host(host: str, port: int) -> list[str]:
    """The system resolver's answer, in the order it prefers."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Wraps a backend (httpcore's AnyIO one by default) that is only ever given IP literals."""

    def __init__(
        self, policy: AddressPolicy, *, resolve: Resolve = resolve_host,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolve = resolve
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):  # lookup and connect share the connect timeout
                addresses = await self._vetted(host, port)
                return await self._connect_first(addresses, port, local_address,
                                                 socket_options)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"cannot connect to {host} in time") from exc

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)

    async def _vetted(self, host: str, port: int) -> list[IPAddress]:
        """Every address of `host`, or RefusedAddress if any of them is refused."""
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                addresses = [ipaddress.ip_address(a) for a in await self._resolve(host, port)]
            except OSError as exc:  # socket.gaierror: no such name, DNS server down
                raise httpcore.ConnectError(
                    f"cannot resolve {host}: {exc.strerror or exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        # All must pass, not just the one we would pick: a name that also points inside
        # is hostile, and the next lookup may put that address first.
        for ip in addresses:
            if reason := self._policy.refusal(host, ip, port):
                raise RefusedAddress(reason)
        return addresses

    async def _connect_first(
        self, addresses: list[IPAddress], port: int, local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first address that answers, in the resolver's order."""
        for ip in addresses[:-1]:
            try:
                return await self._backend.connect_tcp(
                    str(ip), port, local_address=local_address, socket_options=socket_options)
            except httpcore.ConnectError:
                continue
        return await self._backend.connect_tcp(
            str(addresses[-1]), port, local_address=local_address, socket_options=socket_options)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose every connection is vetted.

    No proxy, ever: a proxy would make the connection for us, out of our check's reach, so
    neither the environment (HTTP_PROXY, ...) nor a setting can add one.
    """

    def __init__(
        self, policy: AddressPolicy, *, limits: httpx.Limits, resolve: Resolve = resolve_host,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        super().__init__(verify=verify, limits=limits, trust_env=False)
        # httpx 0.28 takes no network backend (encode/httpx#3749), so the pool it just made
        # is replaced by the same pool on our backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy, resolve=resolve),
        )
