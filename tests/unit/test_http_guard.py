"""The SSRF address policy, without a network: address forms, always-blocked ranges, ports."""

from __future__ import annotations

import ipaddress

import pytest

from pipeline.config import load_settings
from pipeline.http import FetchError, is_public_address
from pipeline.http.guard import AddressPolicy, check_url, parse_networks, parse_ports, parse_url

EVERYTHING = parse_networks(["0.0.0.0/0", "::/0"])


def refusal(address: str, port: int = 443, **policy: object) -> str | None:
    return AddressPolicy(**policy).refusal("h.test", ipaddress.ip_address(address), port)


@pytest.mark.parametrize("address, public", [
    # IPv4 wrapped in IPv6: judged by the IPv4 address the packet really goes to
    ("64:ff9b::7f00:1", False),  # NAT64 well-known prefix -> 127.0.0.1
    ("64:ff9b::a00:1", False),  # NAT64 -> 10.0.0.1
    ("64:ff9b::808:808", True),  # NAT64 -> 8.8.8.8: how IPv6-only hosts reach IPv4 sites
    ("64:ff9b:1::808:808", False),  # local-use NAT64 (RFC 8215): never public
    ("2002:7f00:1::", False),  # 6to4 -> 127.0.0.1
    ("2002:c0a8:101::1", False),  # 6to4 -> 192.168.1.1
    ("2002:808:808::1", True),  # 6to4 -> 8.8.8.8
    ("::7f00:1", False),  # IPv4-compatible ::127.0.0.1
    ("::a00:1", False),  # IPv4-compatible ::10.0.0.1
    ("::808:808", True),
    ("::ffff:0:7f00:1", False),  # SIIT / IPv4-translated ::ffff:0:127.0.0.1
    ("::ffff:0:808:808", True),
    ("::ffff:10.0.0.1", False),  # IPv4-mapped
    ("2001:0:4136:e378::80ff:fffe", False),  # Teredo, client 127.0.0.1
    ("2001:0:4136:e378::f7f7:f7f7", True),  # Teredo, server and client public
    ("2001:0:a00:1::f7f7:f7f7", False),  # Teredo, server 10.0.0.1
    ("fec0::1", False),  # site-local (deprecated; is_global says True)
    ("fd00:ec2::254", False),  # AWS metadata over IPv6
    ("100.100.100.200", False),  # Alibaba metadata
    ("168.63.129.16", False),  # Azure wire server: a "global" address
    ("::1", False),
    ("::", False),
])
def test_is_public_address_unwraps_ipv4_in_ipv6(address, public):
    assert is_public_address(address) is public


@pytest.mark.parametrize("address", [
    "169.254.169.254", "169.254.170.2", "fe80::1", "fd00:ec2::254", "100.100.100.200",
    "168.63.129.16", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::",
    "::a9fe:a9fe", "::ffff:0:a9fe:a9fe",
])
def test_link_local_and_metadata_are_refused_even_when_everything_else_is_allowed(address):
    for policy in ({}, {"allow_private": True}, {"networks": EVERYTHING},
                   {"allow_private": True, "networks": EVERYTHING}):
        reason = refusal(address, 80, **policy)
        assert reason and reason.endswith("(never allowed)"), (address, policy)


def test_refusal_names_the_address_class_and_the_way_out():
    assert refusal("127.0.0.1") == ("refused: h.test resolves to loopback address 127.0.0.1 "
                                    "(set NEWSMON_ALLOW_PRIVATE_NETWORKS=1 to allow)")
    assert "loopback address ::ffff:7f00:1 (127.0.0.1)" in refusal("::ffff:127.0.0.1")
    assert "loopback address 2002:7f00:1:: (127.0.0.1)" in refusal("2002:7f00:1::")
    assert "site-local address fec0::1" in refusal("fec0::1")
    assert "cloud-metadata address 169.254.169.254" in refusal("169.254.169.254")
    assert "link-local address fe80::1" in refusal("fe80::1")


def test_private_networks_open_any_port_while_public_hosts_keep_the_port_rule():
    assert refusal("127.0.0.1", 5432, allow_private=True) is None
    assert refusal("fec0::1", 8080, allow_private=True) is None
    assert refusal("8.8.8.8", 443, allow_private=True) is None
    assert "port 25" in refusal("8.8.8.8", 25, allow_private=True)


def test_allowed_networks_cover_an_address_and_its_ipv6_disguises_on_any_port():
    opened = {"networks": parse_networks(["127.0.0.2/32"])}
    assert refusal("127.0.0.2", 31337, **opened) is None
    assert refusal("::ffff:127.0.0.2", 31337, **opened) is None
    assert refusal("64:ff9b::7f00:2", 31337, **opened) is None
    assert "loopback address 127.0.0.1" in refusal("127.0.0.1", 80, **opened)
    assert "address ::ffff:7f00:1 (127.0.0.1)" in refusal("::ffff:127.0.0.1", 80, **opened)


def test_public_hosts_get_ports_80_and_443_plus_the_configured_ones():
    assert refusal("8.8.8.8", 80) is None and refusal("2a00:1450:4001::200e", 443) is None
    assert refusal("8.8.8.8", 8080) == ("refused: port 8080 of h.test (ports 80, 443 only; "
                                        "set NEWSMON_ALLOWED_PORTS to allow)")
    assert "port 22" in refusal("64:ff9b::808:808", 22)
    assert refusal("8.8.8.8", 8080, ports=parse_ports(["8080"])) is None
    assert "port 8081" in refusal("8.8.8.8", 8081, ports=parse_ports(["8080"]))


def test_allowed_ports_come_from_the_environment_and_are_checked():
    settings = load_settings(env={"NEWSMON_ALLOWED_PORTS": "8080, 8443"})
    assert settings.allowed_ports == ("8080", "8443")
    assert parse_ports(settings.allowed_ports) == {80, 443, 8080, 8443}
    assert parse_ports(()) == {80, 443}
    for bad in ("http", "0", "65536"):
        with pytest.raises(ValueError, match="NEWSMON_ALLOWED_PORTS"):
            parse_ports([bad])


@pytest.mark.parametrize("url, expected", [
    ("http://169.254.169.254/latest/meta-data/", "(never allowed)"),
    ("http://[::ffff:127.0.0.1]/", "loopback address ::ffff:7f00:1 (127.0.0.1)"),
    ("http://[64:ff9b::a00:1]/", "private address 64:ff9b::a00:1 (10.0.0.1)"),
    ("https://8.8.8.8:25/", "port 25"),
])
def test_check_url_refuses_an_ip_literal_before_any_io(url, expected):
    with pytest.raises(FetchError) as caught:
        check_url(parse_url(url), AddressPolicy())
    assert caught.value.kind == "ssrf" and expected in str(caught.value)


def test_check_url_leaves_names_to_the_connect_time_check():
    check_url(parse_url("http://localhost:5432/"), AddressPolicy())  # no lookup, no refusal
