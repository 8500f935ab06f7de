"""Oversized but valid feeds and sitemaps, generated: far more entries than anyone publishes.

Entries are kept short so that many fit under the response and sitemap size caps.
"""

from __future__ import annotations

import gzip
import string

_DIGITS = string.digits + string.ascii_lowercase


def rss_feed(count: int, *, base_url: str, dated: bool = False) -> bytes:
    """An RSS 2.0 feed of `count` entries linking to `base_url` + entry number."""
    date = "<pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate>" if dated else ""
    entries = "".join(f"<item><link>{base_url}{n}</link>{date}</item>" for n in range(count))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>oversized</title><link>{base_url}</link>{entries}</channel></rss>").encode()


def base36(n: int) -> str:
    digits = ""
    while True:
        n, digit = divmod(n, 36)
        digits = _DIGITS[digit] + digits
        if not n:
            return digits


def sitemap_index(count: int, *, dated: dict[int, str] | None = None) -> bytes:
    """A gzipped sitemap index of `count` children with short relative locations
    (`base36(n)`); only the children numbered in `dated` carry a <lastmod>."""
    dated = dated or {}
    children = "".join(
        f"<sitemap><loc>{base36(n)}</loc><lastmod>{dated[n]}</lastmod></sitemap>" if n in dated
        else f"<sitemap><loc>{base36(n)}</loc></sitemap>"
        for n in range(count))
    xml = ('<?xml version="1.0" encoding="UTF-8"?>'
           '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
           f"{children}</sitemapindex>")
    return gzip.compress(xml.encode(), compresslevel=6)
