"""Drill: hostile feeds and broken pages through a whole cycle.

Entity-expansion ("billion laughs") and external-entity (XXE) feeds must neither
expand nor read anything; binary, empty, huge and mis-declared pages fail alone,
recorded, and text is decoded right where the encoding can be recovered.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

from pipeline.ingest.cycle import run_cycle
from tests.drills.conftest import DEMO_ARTICLES, demo_sources, fetch_errors, snapshot, source_entry
from tests.support.loopback import LoopbackServer, Reply

MB = 1024 * 1024
SECRET = "newsmon-drill-secret-7f3a"
XML = {"content-type": "application/rss+xml"}

SPANISH = (
    "Las autoridades de Caracas señalaron el miércoles que la economía del país "
    "atraviesa una situación difícil. El ministro añadió que la producción petrolera "
    "aumentó durante el último trimestre, según cifras oficiales publicadas en la "
    "gaceta. Los analistas consultados coincidieron en que la recuperación será lenta "
    "y dependerá de la inversión extranjera y de la estabilidad política en la región."
)


def page(title: str, body: str, charset: str) -> bytes:
    paragraphs = "".join(f"<p>{body}</p>" for _ in range(4))
    return (f"<html lang='es'><head><meta charset='{charset}'><title>{title}</title></head>"
            f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
            ).encode("cp1252" if charset == "windows-1252" else "utf-8")


def rss(entries: list[tuple[str, str]], doctype: str = "") -> bytes:
    items = "".join(f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid></item>"
                    for t, link in entries)
    return (f'<?xml version="1.0" encoding="utf-8"?>{doctype}<rss version="2.0"><channel>'
            f"<title>drill</title><link>http://x.test/</link>{items}</channel></rss>").encode()


def laughs() -> str:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)]
    return f"<!DOCTYPE rss [{''.join(levels)}]>"


def test_entity_tricks_and_broken_pages_fail_alone(settings, db_url, demo_site,
                                                   tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    cp1252 = page("Informe económico de Caracas", SPANISH, "windows-1252")
    server = LoopbackServer({
        "/binary": Reply(headers={"content-type": "text/html"}, body=os.urandom(64 * 1024)),
        "/empty": Reply(headers={"content-type": "text/html; charset=utf-8"}, body=b""),
        "/huge": Reply(headers={"content-type": "text/html"},
                       body=b"<html><body><p>" + b"a " * MB + b"</p></body></html>"),
        # cp1252 bytes the server calls UTF-8, and UTF-8 bytes it calls Latin-1
        "/lying-utf8": Reply(headers={"content-type": "text/html; charset=utf-8"},
                             body=cp1252.replace(b"windows-1252", b"utf-8")),
        # Its own words too: the same body under another headline is a copy, folded into
        # the first (the extracted text no longer starts with the headline).
        "/lying-latin1": Reply(headers={"content-type": "text/html; charset=iso-8859-1"},
                               body=page("Crónica desde Maracaibo",
                                         "En Maracaibo, los comerciantes dicen lo mismo. "
                                         + SPANISH, "iso-8859-1")),
    })
    with server:
        urls = {name: server.url(f"/{name}") for name in
                ("binary", "empty", "huge", "lying-utf8", "lying-latin1")}
        server.routes.update({
            "/pages.xml": (200, XML, rss([(name, url) for name, url in urls.items()])),
            "/laughs.xml": (200, XML, rss([("&lol9;", server.url("/empty"))], laughs())),
            "/xxe.xml": (200, XML, rss(
                [("&xxe;", server.url("/lying-utf8"))],
                f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret_file}">]>')),
        })
        extra = "".join(source_entry(name, server.url(f"/{name}.xml"))
                        for name in ("pages", "laughs", "xxe"))
        summary = run_cycle(settings.replace(max_response_bytes=MB),
                            sources=demo_sources(demo_site, tmp_path, extra), db_url=db_url)

    stored = snapshot(db_url)
    items = {(source, key.rsplit("/", 1)[1]): (outcome, error) for source, key, outcome, _u, error
             in stored["feed_items"] if source in {"pages", "laughs", "xxe"}}
    with psycopg.connect(db_url) as conn:
        everything = " ".join(str(row) for table in ("articles", "feed_items", "fetch_log")
                              for row in conn.execute(f"SELECT * FROM {table}").fetchall())
        texts = dict(conn.execute("SELECT url, text FROM articles").fetchall())
        entry_titles = conn.execute(
            """SELECT s.name, f.title FROM feed_items f JOIN sources s ON s.id = f.source_id
               WHERE s.name IN ('laughs', 'xxe') ORDER BY s.name""").fetchall()
        status = conn.execute("SELECT status FROM runs").fetchone()[0]
    assert status == "completed" and fetch_errors(db_url) == {}  # every feed parsed
    assert SECRET not in everything  # the external entity was never read
    assert entry_titles == [("laughs", "&lol9;"), ("xxe", "")]  # nothing expanded
    not_html = "extract: page is not parseable HTML"
    assert {key: items[key] for key in items if key[1] != "lying-utf8"} == {
        ("pages", "binary"): ("failed-extract", f"{not_html} ({urls['binary']})"),
        ("pages", "empty"): ("failed-extract", f"{not_html} ({urls['empty']})"),
        ("laughs", "empty"): ("failed-extract", f"{not_html} ({urls['empty']})"),
        ("pages", "huge"): ("failed-fetch", f"fetch: body exceeds 1 MB ({urls['huge']})"),
        ("pages", "lying-latin1"): ("new-relevant", None),
    }
    # `pages` and `xxe` both announce lying-utf8 and the cycle polls them at once, so either
    # may store it first: one article, one new entry, one duplicate, whichever wins.
    shared = sorted(items[(feed, "lying-utf8")] for feed in ("pages", "xxe"))
    assert shared == [("duplicate", None), ("new-relevant", None)]
    for name in ("lying-utf8", "lying-latin1"):  # decoded right despite the wrong charset
        assert "señalaron el miércoles que la economía" in texts[urls[name]]
        assert "Ã" not in texts[urls[name]]
    assert summary.new_articles == DEMO_ARTICLES + 2
