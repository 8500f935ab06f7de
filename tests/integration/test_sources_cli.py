"""`newsmon sources ...` against a real PostgreSQL and loopback sites."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from pipeline.cli.sources import sources_group
from pipeline.config import Settings
from pipeline.models import Source
from pipeline.sources import load_sources_file
from pipeline.store import connect
from pipeline.store.sources import registered_sources, sync_sources
from tests.support.loopback import LoopbackServer

RSS = ('<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
       '<item><title>a</title><link>http://127.0.0.1/a</link></item>'
       '<item><title>b</title><link>http://127.0.0.1/b</link></item></channel></rss>')
ATOM = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>'
        '<entry><title>a</title><link href="http://127.0.0.1/a"/><id>urn:a</id></entry></feed>')


@pytest.fixture
def cli_settings(settings: Settings, db_url: str, tmp_path: Path) -> Settings:
    sources_file = tmp_path / "sources.toml"
    sources_file.write_text('[[sources]]\nname = "Diario"\nurl = "http://127.0.0.1:9/rss.xml"\n'
                            'language = "es"\n', encoding="utf-8")
    return settings.replace(database_url=db_url, sources_file=sources_file)


def sources(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(sources_group, list(args), obj=settings)


def row(db_url: str, name: str) -> tuple:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT origin, enabled, status, url, kind, tags, params "
                            "FROM sources WHERE name = %s", (name,)).fetchone()


def test_add_then_list_shows_file_and_added_sources(cli_settings, db_url) -> None:
    added = sources(cli_settings, "add", "Tren GDELT", "https://api.gdeltproject.org/api/v2/doc/doc",
                    "--kind", "gdelt", "--tag", "crime", "--param", 'query="Tren de Aragua"')
    listed = sources(cli_settings, "list")

    assert added.exit_code == 0, added.output
    assert row(db_url, "Tren GDELT") == ("cli", True, "active",
                                         "https://api.gdeltproject.org/api/v2/doc/doc", "gdelt",
                                         ["crime"], {"query": '"Tren de Aragua"'})
    assert listed.exit_code == 0
    assert "Tren GDELT" in listed.output and "Diario" in listed.output
    assert "2 sources" in listed.output


@pytest.mark.parametrize("args, message", [
    (["add", "Diario", "http://127.0.0.1:9/other.xml"], "'Diario' already exists"),
    (["add", "x", "http://127.0.0.1:9/", "--kind", "pigeon"], "unknown kind 'pigeon'"),
    (["add", "x", "https://api.gdeltproject.org/api/v2/doc/doc", "--kind", "gdelt"],
     "needs params.query"),
    (["add", "x", "http://127.0.0.1:9/", "--param", "novalue"], "is not KEY=VALUE"),
    (["remove", "nobody"], "no source named 'nobody'"),
])
def test_mistakes_get_a_clear_error(cli_settings, args, message) -> None:
    result = sources(cli_settings, *args)
    assert result.exit_code != 0 and message in result.output


def test_removed_sources_stop_being_polled_until_enabled(cli_settings, db_url) -> None:
    sources(cli_settings, "add", "Extra", "http://127.0.0.1:9/extra.xml")
    removed_file = sources(cli_settings, "remove", "Diario")
    removed_added = sources(cli_settings, "remove", "Extra")

    assert removed_file.exit_code == removed_added.exit_code == 0
    assert "still listed in" in removed_file.output  # the file no longer decides alone
    assert row(db_url, "Diario")[1:3] == (False, "disabled")
    file_sources = load_sources_file(cli_settings.sources_file)
    with connect(db_url, autocommit=True) as conn:
        assert registered_sources(conn, file_sources) == []
        assert sources(cli_settings, "enable", "Diario").exit_code == 0
        assert [s.name for s in registered_sources(conn, file_sources)] == ["Diario"]
    readded = sources(cli_settings, "add", "Extra", "http://127.0.0.1:9/moved.xml")
    assert readded.exit_code == 0 and row(db_url, "Extra")[1:4] == (
        True, "active", "http://127.0.0.1:9/moved.xml")


OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Reader export</title></head><body>
  <outline text="Venezuela" title="Venezuela">
    <outline type="rss" text="Efecto Cocuyo" title="Efecto Cocuyo"
             xmlUrl="https://efectococuyo.com/feed/" htmlUrl="https://efectococuyo.com/"/>
    <outline text="Crime"><outline type="rss" text="InSight Crime" category="research"
             xmlUrl="https://insightcrime.org/feed/"/></outline>
  </outline>
  <outline type="rss" text="Diario" xmlUrl="http://127.0.0.1:9/rss.xml"/>
  <outline text="A folder without feeds"/>
</body></opml>"""


def test_opml_import_keeps_folders_as_tags_and_export_round_trips(
    cli_settings, db_url, tmp_path
) -> None:
    opml = tmp_path / "reader.opml"
    opml.write_bytes(OPML)
    imported = sources(cli_settings, "import-opml", str(opml))
    exported = tmp_path / "out.opml"
    export = sources(cli_settings, "export-opml", str(exported))

    assert imported.exit_code == 0, imported.output
    assert "imported 2 sources" in imported.output and "1 skipped" in imported.output
    assert row(db_url, "InSight Crime")[5] == ["Venezuela", "Crime", "research"]
    assert export.exit_code == 0 and "exported 3 sources" in export.output

    # the export, imported into another database, gives the same sources back
    with connect(db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM sources")
    again = sources(cli_settings, "import-opml", str(exported))
    assert "imported 2 sources" in again.output  # Diario comes from the sources file
    with psycopg.connect(db_url) as conn:
        names = conn.execute("SELECT name, url, kind FROM sources ORDER BY name").fetchall()
    assert names == [("Diario", "http://127.0.0.1:9/rss.xml", "rss"),
                     ("Efecto Cocuyo", "https://efectococuyo.com/feed/", "rss"),
                     ("InSight Crime", "https://insightcrime.org/feed/", "rss")]


def test_export_to_stdout_is_opml(cli_settings) -> None:
    result = sources(cli_settings, "export-opml")
    assert result.exit_code == 0
    assert result.output.startswith("<?xml") and 'xmlUrl="http://127.0.0.1:9/rss.xml"' in result.output


def test_check_reports_health_streak_items_per_day_and_median_latency(cli_settings,
                                                                      db_url) -> None:
    polls = [("ok", 120, None), ("ok", 480, None), ("ok", 95, None),
             ("error", 110, "fetch: timed out"), ("error", 130, "fetch: timed out"),
             ("error", 140, "fetch: HTTP 503 Service Unavailable"),
             ("skipped", 0, "skipped: no API key")]  # requested nothing: no poll, no latency
    with connect(db_url, autocommit=True) as conn:
        [diario] = sync_sources(conn, load_sources_file(cli_settings.sources_file))
        for minutes_ago, (status, duration, error) in zip(range(len(polls), 0, -1), polls,
                                                          strict=True):
            conn.execute("""INSERT INTO fetch_log (source_id, started_at, status, duration_ms,
                                                   error_message)
                            VALUES (%s, now() - make_interval(mins => %s), %s, %s, %s)""",
                         (diario.id, minutes_ago, status, duration, error))
        conn.execute("UPDATE sources SET items_per_day = 12.5 WHERE id = %s", (diario.id,))
    result = sources(cli_settings, "check")

    assert result.exit_code == 0, result.output
    [line] = [line for line in result.output.splitlines() if "Diario" in line]
    cells = [cell.strip() for cell in line.split("│")]
    assert {"failing", "3", "12.5", "125 ms"} <= set(cells)
    assert "HTTP 503" in line


def site_page(links: str) -> bytes:
    return f"<!DOCTYPE html><html><head><title>Site</title>{links}</head><body/></html>".encode()


def test_discover_lists_the_feeds_a_page_declares(cli_settings) -> None:
    links = ('<link rel="alternate" type="application/rss+xml" title="News" href="/feed.xml">'
             '<link rel="alternate" type="application/atom+xml" href="atom.xml">'
             '<link rel="alternate" type="application/rss+xml" href="/broken.xml">'
             '<link rel="stylesheet" href="/style.css">')
    with LoopbackServer({
        "/": (200, {"content-type": "text/html"}, site_page(links)),
        "/feed.xml": (200, {}, RSS.format(title="Diario RSS").encode()),
        "/atom.xml": (200, {}, ATOM.format(title="Diario Atom").encode()),
    }) as server:
        result = sources(cli_settings, "discover", server.url("/"))

    assert result.exit_code == 0, result.output
    assert "Diario RSS" in result.output and "Diario Atom" in result.output
    assert server.url("/broken.xml") in result.output and "404" in result.output
    assert server.count("/rss") == 0  # declared feeds found: no probing of common paths


def test_discover_probes_common_paths_when_the_page_declares_none(cli_settings) -> None:
    with LoopbackServer({
        "/": (200, {"content-type": "text/html"}, site_page("")),
        "/rss.xml": (200, {}, RSS.format(title="Hidden feed").encode()),
    }) as server:
        found = sources(cli_settings, "discover", server.url("/"))
        paths = {r.path for r in server.requests}

    assert found.exit_code == 0 and "Hidden feed" in found.output
    assert {"/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml"} <= paths


def test_discover_says_when_a_site_has_no_feed(cli_settings) -> None:
    with LoopbackServer({"/": (200, {"content-type": "text/html"}, site_page(""))}) as server:
        result = sources(cli_settings, "discover", server.url("/"))
    assert result.exit_code != 0 and "no feed found" in result.output


def test_a_feed_url_given_to_discover_is_reported_as_itself(cli_settings) -> None:
    with LoopbackServer({"/feed.xml": (200, {}, RSS.format(title="Direct").encode())}) as server:
        result = sources(cli_settings, "discover", server.url("/feed.xml"))
    assert result.exit_code == 0 and "Direct" in result.output and "page itself" in result.output


def test_sources_added_with_the_cli_join_the_run(cli_settings, db_url) -> None:
    sources(cli_settings, "add", "Extra", "http://127.0.0.1:9/extra.xml", "--language", "en")
    with connect(db_url, autocommit=True) as conn:
        polled = registered_sources(conn, load_sources_file(cli_settings.sources_file))
    assert [(s.name, s.language) for s in polled] == [("Diario", "es"), ("Extra", "en")]
    assert all(isinstance(s, Source) and s.id for s in polled)
