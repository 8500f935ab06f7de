"""Which URLs we may fetch: http(s) only, and by default only public hosts on ports 80 and 443.

Feeds are written by strangers, so a link (or a redirect) to http://169.254.169.254/ or
http://localhost:5432/ must not make newsmon probe its own network (SSRF). The check that
counts runs at connect time (`pipeline.http.transport`): the name is resolved once, every
address is vetted by `AddressPolicy`, and the connection goes to a vetted address, so a DNS
server that answers differently the second time (DNS rebinding) gains nothing. `check_url`
only refuses an IP-literal URL early, before it takes a politeness slot or a robots.txt fetch.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from pipeline.http.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORTS = {"http": 80, "https": 443}

_net = ipaddress.ip_network
# Never reachable, whatever NEWSMON_ALLOW_PRIVATE_NETWORKS or NEWSMON_ALLOWED_NETWORKS say:
# link-local space and the cloud metadata services hand out credentials to anyone who asks.
LINK_LOCAL = (_net("169.254.0.0/16"), _net("fe80::/10"))
CLOUD_METADATA = (
    _net("169.254.169.254/32"),  # AWS, GCP, Azure, OpenStack, ... (link-local anyway)
    _net("fd00:ec2::254/128"),  # AWS over IPv6
    _net("100.100.100.200/32"),  # Alibaba Cloud
    _net("168.63.129.16/32"),  # Azure wire server (a public-looking address)
    _net("192.0.0.192/32"),  # Oracle Cloud, older instances
)
# IPv6 forms that carry an IPv4 address the packet really goes to (ipv4_mapped, 6to4 and
# Teredo have their own ipaddress properties). Python's is_global calls most of them global.
NAT64 = _net("64:ff9b::/96")  # RFC 6052 well-known prefix
IPV4_COMPATIBLE = _net("::/96")  # deprecated ::a.b.c.d
IPV4_TRANSLATED = _net("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d
# RFC 8215 local-use NAT64: where the IPv4 sits is the operator's choice, so it is never
# "public"; an operator who runs one lists it in NEWSMON_ALLOWED_NETWORKS.
NAT64_LOCAL = _net("64:ff9b:1::/48")
SITE_LOCAL = _net("fec0::/10")  # deprecated, still routed inside some networks


class RefusedAddress(Exception):
    """Raised at connect time for an address the policy refuses; the client makes it a
    FetchError(kind="ssrf") with the URL."""


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
    # Fragments never go on the wire (copy_with re-parses the URL: only when there is one).
    return parsed.copy_with(fragment=None) if "#" in url else parsed


def embedded_ipv4(ip: IPAddress) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address leads to (mapped, NAT64, 6to4, Teredo...), or ()."""
    if isinstance(ip, ipaddress.IPv4Address) or ip.is_loopback or ip.is_unspecified:
        return ()  # ::1 and :: are themselves, not IPv4-compatible 0.0.0.1 and 0.0.0.0
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo  # (server, client): both must be fit to reach
    if any(ip in net for net in (NAT64, NAT64_LOCAL, IPV4_COMPATIBLE, IPV4_TRANSLATED)):
        return (ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF),)
    return ()


def is_public_address(address: str | IPAddress) -> bool:
    """True for an address on the public internet (not loopback, private, link-local, ...)."""
    ip = ipaddress.ip_address(address)
    if ip in SITE_LOCAL or ip in NAT64_LOCAL or is_always_blocked(ip):
        return False
    # is_global excludes private, loopback, link-local, reserved, unspecified and shared
    # (100.64/10) space, but counts most multicast as global.
    return all(t.is_global and not t.is_multicast for t in embedded_ipv4(ip) or (ip,))


def is_always_blocked(ip: IPAddress) -> bool:
    """Link-local and cloud-metadata addresses, also when wrapped in an IPv6 form."""
    return any(t in net for t in (ip, *embedded_ipv4(ip)) for net in LINK_LOCAL + CLOUD_METADATA)


def address_class(ip: IPAddress) -> str:
    """What kind of non-public address `ip` is, for the refusal message."""
    if any(t in net for t in (ip, *embedded_ipv4(ip)) for net in CLOUD_METADATA):
        return "cloud-metadata"
    if ip in SITE_LOCAL:
        return "site-local"
    for target in embedded_ipv4(ip) or (ip,):
        for name in ("loopback", "link_local", "private", "multicast", "unspecified",
                     "reserved"):
            if getattr(target, f"is_{name}"):
                return name.replace("_", "-")
    return "non-public"


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
    except ValueError as exc:
        raise ValueError(f"fetch: NEWSMON_ALLOWED_NETWORKS: {exc}") from exc


def parse_ports(ports: Iterable[str | int]) -> frozenset[int]:
    """80 and 443 plus the extra ports from NEWSMON_ALLOWED_PORTS."""
    try:
        extra = {int(p) for p in ports}
    except ValueError as exc:
        raise ValueError(f"fetch: NEWSMON_ALLOWED_PORTS: {exc}") from exc
    if bad := sorted(p for p in extra if not 0 < p < 65536):
        raise ValueError(f"fetch: NEWSMON_ALLOWED_PORTS: {bad[0]} is not a TCP port")
    return frozenset(DEFAULT_PORTS.values()) | extra


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressPolicy:
    """Where a connection may go.

    Public addresses on `ports` only: a feed must not turn newsmon into a port scanner or
    make it speak HTTP to a mail server. What the operator opened (every non-public address
    with `allow_private`, or `networks`) is trusted on any port: intranet feeds and test
    servers rarely sit on 80/443. Link-local and cloud-metadata addresses are refused in
    every case.
    """

    allow_private: bool = False
    networks: tuple[Network, ...] = ()
    ports: frozenset[int] = frozenset(DEFAULT_PORTS.values())

    def refusal(self, host: str, ip: IPAddress, port: int) -> str | None:
        """Why connecting to `ip`:`port` (what `host` resolved to) is refused, or None."""
        def where() -> str:  # only worded when refusing: most checks let the address through
            said = f"refused: {host} resolves to {address_class(ip)} address {ip}"
            if inner := embedded_ipv4(ip):
                said += f" ({', '.join(map(str, inner))})"
            return said

        if is_always_blocked(ip):
            return f"{where()} (never allowed)"
        if self._is_opened(ip):
            return None
        if not is_public_address(ip):
            return None if self.allow_private else (
                f"{where()} (set NEWSMON_ALLOW_PRIVATE_NETWORKS=1 to allow)")
        if port not in self.ports:
            shown = ", ".join(map(str, sorted(self.ports)))
            return (f"refused: port {port} of {host} (ports {shown} only; "
                    "set NEWSMON_ALLOWED_PORTS to allow)")
        return None

    def _is_opened(self, ip: IPAddress) -> bool:
        """In an allowed network, itself or through every IPv4 address it leads to."""
        def opened(target: IPAddress) -> bool:
            return any(target in net for net in self.networks)

        inner = embedded_ipv4(ip)
        return opened(ip) or (bool(inner) and all(map(opened, inner)))


def check_url(url: httpx.URL, policy: AddressPolicy) -> None:
    """Refuse an IP-literal URL the policy would refuse at connect time: a clear error before
    any politeness wait or robots.txt fetch. Names are left to the connect-time check."""
    try:
        ip = ipaddress.ip_address(url.host)
    except ValueError:
        return
    reason = policy.refusal(url.host, ip, url.port or DEFAULT_PORTS[url.scheme])
    if reason:
        raise FetchError(reason, kind="ssrf", url=str(url))
