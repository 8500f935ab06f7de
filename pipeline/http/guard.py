"""Which URLs we may fetch: http(s) only, and by default only hosts on the public internet.

Feeds are written by strangers, so a link (or a redirect) to http://169.254.169.254/ or
http://localhost:5432/ must not make newsmon probe its own network (SSRF). Every hop of a
redirect chain passes `check_url` before it is requested.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import httpx

from pipeline.http.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_url(url: str) -> httpx.URL:
    """An absolute http(s) URL, or FetchError(kind="invalid-url")."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchError(f"invalid URL: {exc}", kind="invalid-url", url=str(url)) from exc
    if parsed.scheme not in DEFAULT_PORTS:
        shown = f"scheme {parsed.scheme!r}" if parsed.scheme else "a relative URL"
        raise FetchError(f"{shown} is not allowed (http and https only)",
                         kind="invalid-url", url=url)
    if not parsed.host:
        raise FetchError("URL has no host", kind="invalid-url", url=url)
    return parsed.copy_with(fragment=None)  # fragments never go on the wire


def host_of(url: str) -> str:
    """The lower-case host name of a URL ("" when it has none): the key for per-host limits."""
    try:
        return httpx.URL(url).host
    except (httpx.InvalidURL, TypeError):
        return ""


def is_public_address(address: str | IPAddress) -> bool:
    """True for an address on the public internet (not loopback, private, link-local, ...)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback in disguise
    # is_global excludes private, loopback, link-local, reserved, unspecified and shared
    # (100.64/10) space, but counts most multicast as global.
    return ip.is_global and not ip.is_multicast


def address_class(ip: IPAddress) -> str:
    for name in ("loopback", "private", "link_local", "multicast", "unspecified", "reserved"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    return "non-public"


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
    except ValueError as exc:
        raise ValueError(f"fetch: NEWSMON_ALLOWED_NETWORKS: {exc}") from exc


async def check_url(url: httpx.URL, *, allowed: tuple[Network, ...] = ()) -> None:
    """Raise FetchError(kind="ssrf") if any address the host resolves to is not public.

    All addresses must pass, since the connection may use any of them. (The connection
    resolves the name again; a DNS server that answers differently within seconds could
    still slip through. Pinning the checked address would need a custom network backend.)
    """
    for ip in await _resolve(url):
        if is_public_address(ip) or any(ip in net for net in allowed):
            continue
        raise FetchError(
            f"refused: {url.host} resolves to {address_class(ip)} address {ip} "
            "(set NEWSMON_ALLOW_PRIVATE_NETWORKS=1 to allow)",
            kind="ssrf",
            url=str(url),
        )


async def _resolve(url: httpx.URL) -> list[IPAddress]:
    host = url.raw_host.decode("ascii")
    port = url.port or DEFAULT_PORTS[url.scheme]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {url.host}: {exc.strerror}",
                         kind="connect", url=str(url)) from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
