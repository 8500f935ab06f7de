"""pipeline.urls: a URL's host (per-host limits), site (same-site rules) and outlet (names)."""

from __future__ import annotations

import pytest

from pipeline.dedup.keys import canonical_url
from pipeline.urls import host_of, outlet_name, site_of


@pytest.mark.parametrize("url, host", [
    ("https://WWW.Example.COM:8443/a?b#c", "www.example.com"),
    ("http://[2001:db8::1]/feed", "2001:db8::1"),
    ("https://bücher.de/", "bücher.de"),
    ("not a url", ""),
    ("file:///etc/passwd", ""),
])
def test_host_of(url, host):
    assert host_of(url) == host


@pytest.mark.parametrize("url, site", [
    ("https://m.bbc.co.uk/news/x", "bbc.co.uk"),
    ("https://www.bbc.co.uk/news/x", "bbc.co.uk"),
    # case and port never make another site where there is a registrable domain
    ("https://M.BBC.CO.UK:8443/news/x", "bbc.co.uk"),
    ("http://user:pw@Example.com:8080/", "example.com"),
    # without one, the host is the site, and a non-default port tells servers apart
    ("http://127.0.0.1:8001/a", "127.0.0.1:8001"),
    ("http://127.0.0.1:80/a", "127.0.0.1"),
    ("https://127.0.0.1:443/a", "127.0.0.1"),
    ("http://LOCALHOST:8001/a", "localhost:8001"),
    ("http://[::1]:8000/a", "[::1]:8000"),
    ("http://[::1]/a", "::1"),
    ("http://127.0.0.1:notaport/a", "127.0.0.1"),
    ("/relative/path", ""),
    ("http://[::1/a", "http://[::1/a"),  # does not parse: a site of its own
])
def test_site_of(url, site):
    assert site_of(url) == site


def test_two_loopback_servers_are_two_sites_and_case_is_one():
    # The twins disagreed: dedup kept the port of a host with no registrable domain, the
    # store dropped it. Kept: on one IP the port is what tells two outlets apart.
    assert site_of("http://127.0.0.1:8001/a") != site_of("http://127.0.0.1:8002/a")
    assert site_of("http://Example.COM:8080/a") == site_of("https://example.com/b")


def test_a_canonical_on_another_loopback_server_is_another_sites():
    assert canonical_url("http://127.0.0.1:8001/a?amp=1",
                         page_canonical="http://127.0.0.1:8002/b") == "http://127.0.0.1:8001/a"


@pytest.mark.parametrize("site_name, url, outlet", [
    ("El Pitazo", "https://elpitazo.net/x", "El Pitazo"),
    ("  Miami Herald ", "https://www.miamiherald.com/x", "Miami Herald"),
    ("   ", "https://www.efectococuyo.com/x", "efectococuyo.com"),
    (None, "https://www.efectococuyo.com/x", "efectococuyo.com"),
    (None, "https://user@www.example.com:8080/x", "example.com"),
    (None, "https://m.bbc.co.uk/x", "m.bbc.co.uk"),  # an outlet is a host, not a site
    (None, "", "unknown"),
    (None, None, "unknown"),
    (None, "mailto:desk@example.com", "unknown"),
])
def test_outlet_name(site_name, url, outlet):
    assert outlet_name(site_name, url) == outlet


@pytest.mark.parametrize("site_name, url, outlet", [
    # The store's Python twin lower-cased before dropping www, trimmed all whitespace,
    # read scheme-less "//host" and raised on a broken IPv6 literal. SQL newsmon_outlet()
    # (a landed migration, used by the research views) does none of that; stories.outlets
    # must agree with those views, so the Python rule follows SQL.
    (None, "HTTPS://WWW.Reuters.COM/x", "www.reuters.com"),
    ("\tTabbed\n", "https://example.com/x", "\tTabbed\n"),
    (None, "//example.com/x", "unknown"),
    (None, "http://[bad/x", "[bad"),
])
def test_outlet_name_follows_sql_where_the_twins_disagreed(site_name, url, outlet):
    assert outlet_name(site_name, url) == outlet


def test_the_outlet_drops_www_but_the_host_keeps_it():
    # outlets are names for people; per-host limits are per server, and www may be another
    assert outlet_name(None, "https://www.example.com/x") == "example.com"
    assert host_of("https://www.example.com/x") == "www.example.com"
