"""pipeline.http pieces that need no network: URL checks, Retry-After, errors, inflating."""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime

import pytest

from pipeline.config import load_settings
from pipeline.http import FetchError, is_public_address, parse_retry_after
from pipeline.http.body import Inflater, inflater_for
from pipeline.http.guard import parse_url


@pytest.mark.parametrize("address, public", [
    ("8.8.8.8", True),
    ("2a00:1450:4001::200e", True),
    ("127.0.0.1", False),
    ("10.1.2.3", False),
    ("172.16.0.1", False),
    ("192.168.1.1", False),
    ("169.254.169.254", False),  # cloud metadata
    ("100.64.0.1", False),  # carrier-grade NAT
    ("0.0.0.0", False),
    ("224.0.0.1", False),  # multicast counts as "global" to ipaddress
    ("240.0.0.1", False),
    ("::1", False),
    ("fe80::1", False),
    ("fc00::1", False),
    ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
    ("::ffff:8.8.8.8", True),
])
def test_is_public_address(address, public):
    assert is_public_address(address) is public


def test_parse_url_drops_the_fragment_and_refuses_other_schemes():
    assert str(parse_url("https://example.org/a#top")) == "https://example.org/a"
    with pytest.raises(FetchError) as caught:
        parse_url("gopher://example.org/")
    assert caught.value.kind == "invalid-url" and "'gopher'" in str(caught.value)


def test_parse_retry_after():
    now = datetime(2025, 12, 1, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Mon, 01 Dec 2025 10:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Mon, 01 Dec 2025 09:00:00 GMT", now=now) == 0.0  # past
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None
    assert parse_retry_after(None) is None


def test_fetch_error_reads_like_a_stage_message_and_knows_what_to_do_next():
    error = FetchError("body exceeds 10 MB", kind="too-large", url="https://x.example/a")
    assert str(error) == "fetch: body exceeds 10 MB (https://x.example/a)"
    assert not error.retryable
    assert FetchError("HTTP 503", kind="http-status", status=503, url="u").retryable
    assert FetchError("HTTP 429", kind="http-status", status=429, url="u").retryable
    assert not FetchError("HTTP 404", kind="http-status", status=404, url="u").retryable
    assert FetchError("read timeout", kind="timeout", url="u").retryable
    with pytest.raises(ValueError):
        FetchError("?", kind="nonsense", url="u")


def test_inflater_never_produces_more_than_asked():
    bomb = gzip.compress(bytes(20 * 1024 * 1024))
    inflater = Inflater("gzip")
    out = inflater.decode(bomb, 1025)  # the whole bomb in one chunk
    assert len(out) == 1025


def test_inflater_accepts_raw_deflate_and_x_gzip():
    text = b"Tren de Aragua " * 50
    assert Inflater("deflate").decode(zlib.compress(text)[2:-4], 10_000) == text
    assert inflater_for("x-gzip", url="u").decode(gzip.compress(text), 10_000) == text
    with pytest.raises(FetchError):
        inflater_for("br", url="u")


def test_allowed_networks_come_from_the_environment():
    settings = load_settings(env={"NEWSMON_ALLOWED_NETWORKS": "10.8.0.0/16, 127.0.0.2/32"})
    assert settings.allowed_networks == ("10.8.0.0/16", "127.0.0.2/32")
    assert load_settings(env={"NEWSMON_ALLOW_PRIVATE_NETWORKS": "1"}).allow_private_networks
