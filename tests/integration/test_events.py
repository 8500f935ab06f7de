"""Events against a real PostgreSQL: stories of one happening in English and Spanish join one
event through store_article, others stay apart, the event's aggregates and the reason are
stored, concurrent writers meet, the research views and `newsmon cluster`/`eval-events`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pipeline.match import load_watchlist, match_article
from pipeline.models import Article
from pipeline.store.articles import Stored, store_article
from tests.support.newsrows import wait_until_blocked

DEV_SET = Path(__file__).resolve().parents[1] / "data" / "events_dev.jsonl"
TUESDAY = datetime(2025, 11, 18, 14, 0, tzinfo=UTC)

DOCK_EN = ("US strikes dock inside Venezuela in first attack on land",
           ("US military aircraft struck a dock near the town of Güiria in Venezuela's Sucre "
           "state on Tuesday, killing four people. Defense Secretary Pete Hegseth said the pier "
           "was used to load drug boats."))
DOCK_ES = ("EEUU bombardea un muelle en Güiria, primer ataque en territorio venezolano",
           ("Aviones militares de Estados Unidos atacaron este martes un muelle en Güiria, estado "
           "Sucre. Cuatro personas murieron en el bombardeo, informó Pete Hegseth."))
BOAT_FRIDAY = ("US strike on boat in Caribbean kills three",
               ("US forces struck a boat in the Caribbean on Friday, killing three people aboard, "
               "Pete Hegseth said. Two survivors were pulled from the water."))


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def article(title: str, text: str, *, url: str, lang: str, at: datetime,
            site: str | None = None) -> Article:
    return Article(url=url, canonical_url=url, title=title, text=text, lang=lang,
                   published_at=at, site_name=site)


def store(conn: psycopg.Connection, page: Article) -> Stored:
    match = match_article(load_watchlist("venezuela"), title=page.title, text=page.text,
                          lang=page.lang)
    return store_article(conn, article=page, source_id=None, match=match, now=page.published_at)


def event_of(conn: psycopg.Connection, story_id: int) -> int | None:
    return conn.execute("SELECT event_id FROM stories WHERE id = %s", (story_id,)).fetchone()[0]


def events(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        """SELECT id, story_count, outlets, languages, first_seen_at, last_seen_at,
                  first_published_at, last_published_at
           FROM events ORDER BY id""").fetchall()


def test_english_and_spanish_reports_of_one_happening_join_one_event(conn) -> None:
    english = store(conn, article(*DOCK_EN, url="https://wire.example/dock", lang="en",
                                  at=TUESDAY, site="Caribbean Wire"))
    spanish = store(conn, article(*DOCK_ES, url="https://diario.example/muelle", lang="es",
                                  at=TUESDAY + timedelta(hours=2), site="Diario del Llano"))

    assert english.story_id != spanish.story_id  # different texts: two stories...
    assert event_of(conn, english.story_id) == event_of(conn, spanish.story_id)  # ...one event
    [(event_id, count, outlets, languages, seen_first, seen_last, pub_first, pub_last)] = \
        events(conn)
    assert event_id == event_of(conn, english.story_id)
    assert count == 2
    assert outlets == ["Caribbean Wire", "Diario del Llano"]
    assert languages == ["en", "es"]
    assert (seen_first, seen_last) == (TUESDAY, TUESDAY + timedelta(hours=2))
    assert (pub_first, pub_last) == (TUESDAY, TUESDAY + timedelta(hours=2))

    started, joined = (conn.execute("SELECT event_reason FROM stories WHERE id = %s",
                                    (s.story_id,)).fetchone()[0] for s in (english, spanish))
    assert started == {"new": True}
    assert joined["joined"] is True and joined["score"] >= 4
    assert "guiria" in joined["places"] and "dead:4" in joined["numbers"]


def test_a_strike_on_another_day_starts_its_own_event(conn) -> None:
    dock = store(conn, article(*DOCK_EN, url="https://wire.example/dock", lang="en", at=TUESDAY))
    boat = store(conn, article(*BOAT_FRIDAY, url="https://wire.example/boat", lang="en",
                               at=TUESDAY + timedelta(days=3)))

    assert event_of(conn, dock.story_id) != event_of(conn, boat.story_id)
    reason = conn.execute("SELECT event_reason FROM stories WHERE id = %s",
                          (boat.story_id,)).fetchone()[0]
    assert reason["new"] is True


def test_events_further_apart_than_the_window_are_not_candidates(conn) -> None:
    english = store(conn, article(*DOCK_EN, url="https://wire.example/dock", lang="en",
                                  at=TUESDAY))
    late = store(conn, article(*DOCK_ES, url="https://diario.example/muelle", lang="es",
                               at=TUESDAY + timedelta(days=10)))

    assert event_of(conn, english.story_id) != event_of(conn, late.story_id)
    reason = conn.execute("SELECT event_reason FROM stories WHERE id = %s",
                          (late.story_id,)).fetchone()[0]
    assert reason == {"new": True}  # not even scored: outside the window


def test_a_verbatim_copy_adds_its_outlet_to_the_event_and_a_repeat_changes_nothing(conn) -> None:
    first = store(conn, article(*DOCK_EN, url="https://wire.example/dock", lang="en",
                                at=TUESDAY, site="Caribbean Wire"))
    copy = store(conn, article(*DOCK_EN, url="https://paper.example/dock", lang="en",
                               at=TUESDAY + timedelta(hours=1), site="Harbor Ledger"))
    assert copy.outcome == "duplicate" and copy.story_id == first.story_id
    before = events(conn)
    assert before[0][1:4] == (1, ["Caribbean Wire", "Harbor Ledger"], ["en"])

    again = store(conn, article(*DOCK_EN, url="https://wire.example/dock", lang="en",
                                at=TUESDAY, site="Caribbean Wire"))
    assert again.outcome == "unchanged"
    assert events(conn) == before
    assert conn.execute("SELECT count(*) FROM stories WHERE event_id IS NULL").fetchone()[0] == 0


def test_two_writers_placing_stories_of_one_event_at_once_meet(db_url, conn) -> None:
    """The second writer waits on the first's event keys, then joins the event it made."""
    first = article(*DOCK_EN, url="https://wire.example/dock", lang="en", at=TUESDAY)
    second = article(*DOCK_ES, url="https://diario.example/muelle", lang="es",
                     at=TUESDAY + timedelta(hours=2))

    def other_writer() -> Stored:
        with psycopg.connect(db_url, autocommit=True) as other:
            return store(other, second)

    with (ThreadPoolExecutor(max_workers=1) as pool, psycopg.connect(db_url) as holder):
        holder.execute("SELECT 1")  # open the transaction store_article nests in
        stored_first = store(holder, first)
        pending = pool.submit(other_writer)
        wait_until_blocked(conn, pending)
        holder.commit()
        stored_second = pending.result(timeout=30)

    assert event_of(conn, stored_first.story_id) == event_of(conn, stored_second.story_id)
    assert [row[1] for row in events(conn)] == [2]


def test_the_timeline_names_the_first_outlet_and_the_spanish_lag(conn) -> None:
    store(conn, article(*DOCK_EN, url="https://wire.example/dock", lang="en", at=TUESDAY,
                        site="Caribbean Wire"))
    store(conn, article(*DOCK_ES, url="https://diario.example/muelle", lang="es",
                        at=TUESDAY + timedelta(minutes=35), site="Diario del Llano"))
    row = conn.execute(
        """SELECT first_outlet, first_published_at, story_count, articles, outlet_count,
                  languages, es_lag, title FROM event_timeline""").fetchone()
    assert row == ("Caribbean Wire", TUESDAY, 2, 2, 2, ["en", "es"], timedelta(minutes=35),
                   DOCK_EN[0])
    stories = conn.execute(
        "SELECT outlet, lang, event_reason ? 'joined' FROM event_stories ORDER BY published_at"
    ).fetchall()
    assert stories == [("Caribbean Wire", "en", False), ("Diario del Llano", "es", True)]
    for view in ("events", "event_timeline", "event_stories"):
        assert conn.execute("SELECT has_table_privilege('newsmon_reader', %s, 'SELECT')",
                            (view,)).fetchone()[0]


# --- the commands ------------------------------------------------------------------------------


def newsmon(*args: str, env: dict[str, str], stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=env, input=stdin,
                          capture_output=True, check=False, text=True, timeout=300)


@pytest.fixture
def env(tmp_path: Path, pg_admin_url: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")},
            "NEWSMON_HOME": str(tmp_path / "home"), "NEWSMON_DATABASE_URL": pg_admin_url}


def test_cluster_prints_one_line_per_input_and_drops_its_scratch_database(env,
                                                                           pg_admin_url) -> None:
    lines = [
        {"id": "en", "title": DOCK_EN[0], "text": DOCK_EN[1], "lang": "en",
         "published_at": "2025-11-18T14:00:00Z"},
        {"id": "boat", "title": BOAT_FRIDAY[0], "text": BOAT_FRIDAY[1],
         "published_at": "2025-11-21T14:00:00Z"},
        {"id": "es", "title": DOCK_ES[0], "text": DOCK_ES[1], "lang": "es",
         "published_at": "2025-11-18T16:00:00+00:00", "outlet": "Diario del Llano"},
        {"id": "copy", "title": DOCK_EN[0], "text": DOCK_EN[1], "outlet": "Harbor Ledger",
         "published_at": "2025-11-18T15:00:00Z"},
    ]
    stdin = "\n".join(json.dumps(line) for line in lines) + "\nnot json\n"
    done = newsmon("cluster", env=env, stdin=stdin)

    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["id"] for o in out] == ["en", "boat", "es", "copy"]  # input order, not time
    by_id = {o["id"]: o for o in out}
    assert by_id["en"]["event"] == by_id["es"]["event"] == by_id["copy"]["event"]
    assert by_id["copy"]["story"] == by_id["en"]["story"] != by_id["es"]["story"]
    assert by_id["boat"]["event"] != by_id["en"]["event"]
    assert "line 5" in done.stderr
    with psycopg.connect(pg_admin_url) as admin:
        assert admin.execute("SELECT count(*) FROM pg_database "
                             "WHERE datname LIKE 'newsmon_cluster_%'").fetchone()[0] == 0


def test_eval_events_meets_the_targets_on_the_dev_set(env) -> None:
    done = newsmon("eval-events", "--json", str(DEV_SET), env=env)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["articles"] >= 120 and report["gold_events"] >= 15
    assert report["errors"] == 0
    assert report["overall"]["f1"] >= 0.90
    assert report["cross_language"]["f1"] >= 0.80


def test_eval_events_reads_one_split(env) -> None:
    done = newsmon("eval-events", "--split", "check", str(DEV_SET), env=env)

    assert done.returncode == 0, done.stderr
    check = sum(1 for line in DEV_SET.read_text(encoding="utf-8").splitlines()
                if json.loads(line)["split"] == "check")
    assert done.stdout.startswith(f"articles {check} ")
    assert "cross-language  B-cubed precision" in done.stdout
