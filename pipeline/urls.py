"""What a URL says about where it lives: its host, its site, its outlet.

Three questions, three answers that differ on purpose (and one more: ``is_aggregator``):

* ``host_of``: the server, exactly (``www.example.com`` and ``example.com`` may be two
  machines), the key for per-host concurrency and politeness;
* ``site_of``: the registrable domain (``bbc.co.uk`` for ``m.bbc.co.uk``), what decides
  whether a page's ``rel=canonical`` or a URL variant stays on the same site;
* ``outlet_name``: what a reader calls the publisher: its site name, else the host
  without ``www.``. SQL computes the same name in ``newsmon_outlet()`` for the research
  views, so this one follows that function letter for letter.

Pure: parsing only, no lookups.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

import httpx
from tld import get_fld

_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_of(url: str) -> str:
    """The lower-case host name of a URL ("" when it has none): the key for per-host limits.

    Parsed the way the HTTP client parses it (IDNA hosts decoded, IPv6 unbracketed), so
    the key names the server a request really goes to; www stays, it may be another one.
    """
    try:
        return httpx.URL(url).host
    except (httpx.InvalidURL, TypeError):
        return ""


def site_of(url: str) -> str:
    """The site a URL belongs to: its registrable domain, whatever the case or the port.

    ``https://M.BBC.co.uk:8443/x`` -> ``bbc.co.uk``. A host with no registrable domain (an
    IP address, localhost) is its own site together with its port: there the port is all
    that tells two servers apart (each loopback server is an outlet of its own in the
    tests and the bench). A default port counts as none. "" when the URL has no host; a
    URL that does not parse is a site of its own, itself.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return url
    site = registrable_domain(host) if host else None
    if site:
        return site
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or port == _DEFAULT_PORTS.get(parts.scheme.lower()):
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# Sites whose links in news feeds lead to their own redirects, consent walls or interstitial
# pages (Google News, Bing News), never to an article: no article row may carry their URLs.
AGGREGATOR_SITES = frozenset({"google.com", "bing.com"})


def is_aggregator(url: str) -> bool:
    """Whether the URL is on an aggregator's site (news.google.com, www.bing.com, ...)."""
    return site_of(url) in AGGREGATOR_SITES


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str | None:
    """The site of a lower-case host: bbc.co.uk for m.bbc.co.uk; None for IPs, localhost,
    unknown TLDs."""
    return get_fld(f"http://{host}", fail_silently=True)


# The host part of SQL newsmon_outlet() (sql/0009_research.sql), verbatim: a scheme, an
# optional user@, an optional lower-case "www.", then the host up to a port, path, query
# or fragment.
_OUTLET_HOST = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/@]*@)?(?:www\.)?([^/:?#]+)")


def outlet_name(site_name: str | None, url: str | None) -> str:
    """The outlet of an article: its site name, else the host of its URL without www.

    The Python twin of SQL ``newsmon_outlet(site_name, url)`` (sql/0009_research.sql):
    ``stories.outlets`` is written with this and read next to the ``story_outlets`` and
    ``relevant_articles`` views, which use the SQL one, so both must give the same name.
    The migration has landed, so this follows it, quirks included: only spaces are
    trimmed from the site name (btrim), and "www." is dropped before lower-casing, so
    ``WWW.Example.com`` stays ``www.example.com``. tests/integration/test_outlet_sql.py
    runs both on one table of cases.
    """
    name = (site_name or "").strip(" ")
    if name:
        return name
    found = _OUTLET_HOST.match(url or "")
    return found.group(1).lower() if found else "unknown"
