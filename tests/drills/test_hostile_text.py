"""Drill: hostile text at the edge, and every item and source its own failure domain.

Feeds on loopback carry what once stopped every cycle (a NUL in a title, a 9 KB link,
control characters as GDELT sends them, bidi overrides, an encoded-word title decoding to
CR LF and a forged header) next to ordinary entries. The database itself is made to refuse
one article, one source's bookkeeping, or the run's own: each failure stays where it is.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from pipeline.ingest.cycle import run_cycle
from pipeline.models import Outcome
from pipeline.store import DatabaseError, DatabaseUnavailable
from tests.drills.conftest import DEMO_ARTICLES, demo_sources, fetch_errors, source_entry
from tests.support.loopback import LoopbackServer

FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
HTML = {"content-type": "text/html; charset=utf-8"}
WORDS = [
    "gobierno", "economía", "petróleo", "Caracas", "Maracaibo", "elecciones", "oposición",
    "ministro", "inflación", "salarios", "frontera", "Colombia", "migrantes", "sanciones",
    "empresa", "producción", "precio", "dólar", "banco", "central", "reservas", "deuda",
    "acuerdo", "diálogo", "protesta", "estudiantes", "hospital", "escuela", "agua", "apagón",
    "gasolina", "transporte", "cosecha", "lluvias", "puerto", "aduana", "exportación", "café",
    "cacao", "turismo", "playa", "montaña", "tribunal", "fiscal", "periodistas", "radio",
    "prensa", "alcalde", "gobernador", "asamblea", "diputados", "ley", "reforma",
]
HOSTILE_BYLINE = "Ana \u202ePérez\u202c\u0085López"
LONG_PATH = "/long/" + "a" * 9000


def encoded_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def page(slug: str, title: str, *, head: str = "") -> bytes:
    """An article page of its own words (seeded by `slug`), so no two are near-duplicates."""
    rng = random.Random(slug)
    paragraphs = "".join(
        "<p>Nicolás Maduro habló en Venezuela. " + " ".join(rng.choices(WORDS, k=60)) + ".</p>"
        for _ in range(5))
    return (f"<html lang='es'><head><meta charset='utf-8'><title>{title}</title>{head}</head>"
            f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>").encode()


# slug -> (entry title as the feed sends it, what is stored)
JSON_ENTRIES = {
    "nul": ("Maduro\u0000Venezuela", "MaduroVenezuela"),
    "controls": ("Caracas\x01\x1b[31m\x7f\x85 hoy\u2028ayer", "Caracas [31m hoy ayer"),
    "bidi": ("Informe \u202egnp.exe\u202c de Caracas", "Informe gnp.exe de Caracas"),
    "encoded": (encoded_word("Maduro habla\r\nBcc: victim@example.org\r\n\r\n<b>hola</b>"),
                "Maduro habla Bcc: victim@example.org hola"),
    "surrogate": ("Lone \ud800 surrogate", "Lone surrogate"),
    "benign": ("Maduro visita Maracaibo", "Maduro visita Maracaibo"),
}


def hostile_server() -> LoopbackServer:
    routes = {f"/{slug}": (200, HTML, page(slug, "Crónica de Caracas")) for slug in JSON_ENTRIES}
    # The page itself is hostile too: bidi overrides in its title and byline.
    routes["/bidi"] = (200, HTML, page("bidi", "Crónica \u202eedoc\u202c de Caracas", head=(
        f"<meta name='author' content='{HOSTILE_BYLINE}'>")))
    routes["/gdelt-page"] = (200, HTML, page("gdelt", "Tren de Aragua en Chile"))
    routes[LONG_PATH] = (200, HTML, page("long", "never fetched"))
    server = LoopbackServer(routes)
    entries = [{"id": f"{slug}\u0000id" if slug == "nul" else slug,
                "url": server.url(f"/{slug}"), "title": title,
                **({"authors": [{"name": encoded_word("Eve\r\nX-Evil: 1")}]}
                   if slug == "encoded" else {})}
               for slug, (title, _stored) in JSON_ENTRIES.items()]
    entries.append({"id": "long", "url": server.url(LONG_PATH), "title": "Long link"})
    server.routes["/feed.json"] = (200, {"content-type": "application/feed+json"}, json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "hostile",
         "items": entries}).encode())
    # GDELT sends raw control characters in titles with no attacker involved.
    server.routes["/gdelt"] = (200, {"content-type": "application/json"}, (
        '{"articles": [{"url": "' + server.url("/gdelt-page") + '", "title": '
        '"Tren de Aragua\x01\x02 en Chile\x0b", "language": "Spanish", '
        '"seendate": "20261101T120000Z"}]}').encode())
    return server


def hostile_sources(server: LoopbackServer) -> str:
    return (source_entry("hostile-json", server.url("/feed.json"))
            + f'[[sources]]\nname = "gdelt"\nkind = "gdelt"\nurl = "{server.url("/gdelt")}"\n'
              'params = { query = "Maduro" }\n\n')


def entries(db_url: str, *names: str) -> dict[tuple[str, str], tuple[str, str, str | None]]:
    """(source, entry slug) -> (outcome, title, error) for the named sources."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            """SELECT s.name, f.url, f.outcome, f.title, f.error FROM feed_items f
               JOIN sources s ON s.id = f.source_id WHERE s.name = ANY(%s)""",
            (list(names),)).fetchall()
    return {(name, url.split("/")[3][:20]): (outcome, title, error)
            for name, url, outcome, title, error in rows}


def cycle_lock_released(db_url: str) -> None:
    """Wait until the last cycle's session is gone: PostgreSQL frees a session's advisory
    locks only after the client has left, so a cycle started at once could skip."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        for _ in range(200):
            held = conn.execute("""SELECT count(*) FROM pg_locks l JOIN pg_database d
                                   ON d.oid = l.database WHERE l.locktype = 'advisory'
                                   AND d.datname = current_database()""").fetchone()[0]
            if not held:
                return
            time.sleep(0.05)
    raise AssertionError("the previous cycle's advisory lock was never released")


def run_statuses(db_url: str) -> list[str]:
    with psycopg.connect(db_url) as conn:
        return [row[0] for row in conn.execute("SELECT status FROM runs ORDER BY id")]


def stored_text(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        return " | ".join(str(value) for row in conn.execute(
            """SELECT title, coalesce(author, ''), coalesce(site_name, ''),
                      coalesce(description, '') FROM articles
               UNION ALL SELECT title, item_key, url, coalesce(error, '') FROM feed_items""")
            for value in row)


def test_hostile_entries_settle_with_their_reasons_and_the_cycle_goes_on(
        settings, db_url, demo_site, tmp_path: Path) -> None:
    with hostile_server() as server:
        sources = demo_sources(demo_site, tmp_path, hostile_sources(server))
        long_chars = len(server.url(LONG_PATH))
        first = run_cycle(settings, sources=sources, db_url=db_url)
        cycle_lock_released(db_url)
        second = run_cycle(settings, sources=sources, db_url=db_url)
        fetched = {path: server.count(path) for path in
                   [*(f"/{slug}" for slug in JSON_ENTRIES), "/gdelt-page", LONG_PATH]}

    assert run_statuses(db_url) == ["completed", "completed"]
    assert fetch_errors(db_url) == {}
    found = entries(db_url, "hostile-json", "gdelt")
    outcomes = {key: outcome for key, (outcome, _title, _error) in found.items()}
    assert outcomes == {**{("hostile-json", slug): "new-relevant" for slug in JSON_ENTRIES},
                        ("gdelt", "gdelt-page"): "new-relevant",
                        ("hostile-json", "long"): "rejected"}
    for slug, (_sent, stored) in JSON_ENTRIES.items():
        assert found["hostile-json", slug][1] == stored
    assert found["gdelt", "gdelt-page"][1] == "Tren de Aragua en Chile"
    assert found["hostile-json", "long"][2] == \
        f"url: {long_chars:,} characters, over the 2,048 limit"
    assert first.new_articles == DEMO_ARTICLES + len(JSON_ENTRIES) + 1
    assert first.outcomes[Outcome.REJECTED] == 1 and first.as_dict()["rejected"] == 1

    text = stored_text(db_url)
    assert not FORBIDDEN.search(text)
    assert "Crónica edoc de Caracas" in text and "Ana Pérez López" in text
    assert "Eve X-Evil: 1" in text

    # The second cycle finds every entry settled: nothing fetched again, nothing stored.
    assert fetched == {**dict.fromkeys(fetched, 1), LONG_PATH: 0}
    assert second.new_articles == 0 and second.sources_failed == 0
    assert second.outcomes[Outcome.ALREADY_SEEN] == second.items_seen


def test_the_cli_exits_zero_over_hostile_feeds_twice(db_url, demo_site, tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")},
           "NEWSMON_HOME": str(tmp_path / "home"), "NEWSMON_DATABASE_URL": db_url,
           "NEWSMON_ALLOW_PRIVATE_NETWORKS": "1", "NEWSMON_EXTRACT_WORKERS": "1"}
    with hostile_server() as server:
        demo_sources(demo_site, tmp_path, hostile_sources(server))
        runs = []
        for _ in range(2):
            cycle_lock_released(db_url)
            runs.append(subprocess.run(
                [sys.executable, "-m", "pipeline.cli", "run", "--sources",
                 str(tmp_path / "demo-sources.toml"), "--json"],
                env=env, capture_output=True, text=True, timeout=300, check=False))
    for done in runs:
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    first, second = (json.loads(done.stdout) for done in runs)
    assert first["new_articles"] == DEMO_ARTICLES + len(JSON_ENTRIES) + 1
    assert (first["rejected"], first["failed_store"], first["sources_failed"]) == (1, 0, 0)
    assert second["new_articles"] == 0 and second["already_seen"] == second["items_seen"]
    assert run_statuses(db_url) == ["completed", "completed"]


def test_an_article_the_database_refuses_fails_alone(settings, db_url, tmp_path: Path) -> None:
    slugs = ("uno", "veneno", "tres")
    server = LoopbackServer({f"/{slug}": (200, HTML, page(slug, f"Crónica {slug}"))
                             for slug in slugs})
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""ALTER TABLE articles ADD CONSTRAINT drill_refuses_veneno
                        CHECK (title NOT LIKE '%veneno%')""")
    with server:
        server.routes["/feed.json"] = (200, {"content-type": "application/feed+json"},
                                       json.dumps({"version": "https://jsonfeed.org/version/1",
                                                   "items": [{"id": s, "url": server.url(f"/{s}")}
                                                             for s in slugs]}).encode())
        path = tmp_path / "sources.toml"
        path.write_text(source_entry("feed", server.url("/feed.json")))
        from pipeline.sources import load_sources_file

        summary = run_cycle(settings, sources=load_sources_file(path), db_url=db_url)

    found = entries(db_url, "feed")
    assert {slug: found["feed", slug][0] for slug in slugs} == {
        "uno": "new-relevant", "veneno": "failed-store", "tres": "new-relevant"}
    assert found["feed", "veneno"][2].startswith(
        'store: CheckViolation: new row for relation "articles" violates check constraint '
        '"drill_refuses_veneno"')
    assert summary.as_dict()["failed_store"] == 1 and summary.new_articles == 2
    assert run_statuses(db_url) == ["completed"]


def test_a_source_failing_unexpectedly_is_recorded_and_the_others_go_on(
        settings, db_url, demo_site, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""
            CREATE FUNCTION drill_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.status = 'ok'
                   AND NEW.source_id = (SELECT id FROM sources WHERE name = 'refused') THEN
                    RAISE EXCEPTION 'drill: this poll may not be recorded';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER drill_refuse BEFORE INSERT ON fetch_log
                FOR EACH ROW EXECUTE FUNCTION drill_refuse()""")
    with hostile_server() as server:
        sources = demo_sources(demo_site, tmp_path,
                               source_entry("refused", server.url("/feed.json")))
        summary = run_cycle(settings, sources=sources, db_url=db_url)

    expected = ("db: RaiseException (P0001) while ingesting refused: "
                "drill: this poll may not be recorded")
    assert summary.sources_failed == 1
    assert next(e for e in summary.errors if e.startswith("refused: ")).startswith(
        f"refused: {expected}")
    assert fetch_errors(db_url)["refused"].startswith(expected)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("""SELECT error_class FROM fetch_log f JOIN sources s
                               ON s.id = f.source_id WHERE s.name = 'refused'""").fetchall() \
            == [("unexpected",)]
    assert summary.new_articles == DEMO_ARTICLES + len(JSON_ENTRIES)
    assert run_statuses(db_url) == ["completed"]


def test_a_run_the_database_refuses_is_failed_and_named(settings, db_url, demo_site,
                                                        tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE run_shards ADD CONSTRAINT drill_no_shards CHECK (false)")
    with pytest.raises(DatabaseError) as raised:
        run_cycle(settings, sources=demo_sources(demo_site, tmp_path), db_url=db_url)

    assert not isinstance(raised.value, DatabaseUnavailable)
    message = str(raised.value)
    assert message.startswith("db: CheckViolation (23514) during the cycle: ")
    assert "connection lost" not in message
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT status, error FROM runs").fetchall() == [
            ("failed", message.replace("\n", " "))]  # one line, like every stored error
