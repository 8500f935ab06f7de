"""Stories against a real PostgreSQL: copies, URL variants, verbatim copies, separate stories,
revisions, idempotence and concurrent writers. Texts come from tests/data/dup_pairs.jsonl."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import psycopg
import pytest

from pipeline.dedup.keys import canonical_url, text_keys
from pipeline.models import Article, Match
from pipeline.store.articles import Stored, find_near_duplicate, known_articles, store_article
from tests.support.newsrows import wait_until_blocked

PAIRS = Path(__file__).resolve().parents[1] / "data" / "dup_pairs.jsonl"
MATCH = Match(watchlist="venezuela", relevant=True, score=4.0)


def _signature(text: str):
    return text_keys(text).signature


@lru_cache(maxsize=1)
def _versions() -> dict[tuple[str, str], dict[str, dict]]:
    """(lang, event) -> variant name ("wire", "republished", "independent0", ...) -> page."""
    found: dict[tuple[str, str], dict[str, dict]] = {}
    for line in PAIRS.read_text(encoding="utf-8").splitlines():
        pair = json.loads(line)
        first, second = pair["kind"].replace("!", "~").split("~")
        event = found.setdefault((pair["lang"], pair["event"]), {})
        event[first], event[second] = pair["a"], pair["b"]
    return found


def page(lang: str, event: str, variant: str, url: str, *, site_name: str | None = None,
         page_canonical: str | None = None, text: str | None = None,
         title: str | None = None) -> Article:
    """An extracted page as the cycle hands it over: canonical URL already folded."""
    stored = _versions()[(lang, event)][variant]
    return Article(
        url=url,
        canonical_url=canonical_url(url, page_canonical=page_canonical),
        title=stored["title"] if title is None else title,
        text=stored["text"] if text is None else text,
        lang=lang,
        site_name=site_name,
        page_canonical_url=page_canonical,
    )


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def _stories(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT id, representative_id, size, outlets FROM stories ORDER BY id").fetchall()


def _count(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


SYNDICATION = {
    "en": ("boat-strike", [
        ("wire", "https://apnews.com/article/venezuela-boat-strike-caribbean-4b1e2c", "AP News"),
        ("republished", "https://www.miamiherald.com/news/nation-world/article312345.html",
         "Miami Herald"),
        ("trim-tail", "https://www.gulf-coast-times.com/world/2025/11/04/us-strikes-drug-boat",
         None),
    ]),
    "es": ("lancha", [
        ("wire", "https://efe.com/mundo/2025-11-04/eeuu-ataca-lancha-caribe/", "EFE"),
        ("lead-edit", "https://elpais.com/america/2025-11-04/nuevo-bombardeo-caribe.html",
         "El País"),
        ("drop-middle", "https://www.elnacional.com/venezuela/pentagono-tres-muertos-lancha/",
         None),
    ]),
}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_wire_story_on_three_sites_is_three_articles_in_one_story(conn, lang) -> None:
    event, sites = SYNDICATION[lang]

    results = [store_article(conn, article=page(lang, event, variant, url, site_name=site),
                             source_id=None, match=MATCH) for variant, url, site in sites]

    assert [r.outcome for r in results] == ["new", "new", "new"]
    assert [r.new_story for r in results] == [True, False, False]
    assert len({r.article_id for r in results}) == 3
    story_id = results[0].story_id
    assert {r.story_id for r in results} == {story_id}
    host = sites[2][1].split("/")[2].removeprefix("www.")
    outlets = [sites[0][2], sites[1][2], host]
    assert _stories(conn) == [(story_id, results[0].article_id, 3, outlets)]
    assert conn.execute("SELECT count(*) FROM articles WHERE story_id = %s",
                        (story_id,)).fetchone()[0] == 3
    assert _count(conn, "matches") == 3


def test_one_article_under_amp_utm_and_mobile_urls_is_one_article(conn) -> None:
    canonical = "https://www.elnacional.com/venezuela/ataque-lancha-caribe"
    variants = [  # (link in the feed, URL fetched after redirects, page's rel=canonical)
        (canonical + "/?utm_source=rss&utm_medium=feed&utm_campaign=mundo", None, None),
        ("https://www.elnacional.com/venezuela/ataque-lancha-caribe/amp/",
         "https://www.elnacional.com/venezuela/ataque-lancha-caribe/amp/", canonical),
        ("https://m.elnacional.com/venezuela/ataque-lancha-caribe?fbclid=IwAR2xYz",
         "https://m.elnacional.com/venezuela/ataque-lancha-caribe?fbclid=IwAR2xYz", None),
        ("https://amp.elnacional.com/venezuela/ataque-lancha-caribe?outputType=amp#top",
         None, "/venezuela/ataque-lancha-caribe"),
    ]
    results = []
    for feed_url, fetched, declared in variants:
        article = page("es", "lancha", "wire", fetched or feed_url, page_canonical=declared)
        assert article.canonical_url == canonical  # phase-1 folding, the premise of this test
        results.append(store_article(conn, article=article, source_id=None, match=MATCH,
                                     feed_url=feed_url))

    assert [r.outcome for r in results] == ["new", "unchanged", "unchanged", "unchanged"]
    assert {r.article_id for r in results} == {results[0].article_id}
    assert _count(conn, "articles") == 1 and _count(conn, "stories") == 1
    urls = {u for (u,) in conn.execute("SELECT url FROM article_urls WHERE article_id = %s",
                                       (results[0].article_id,))}
    seen = {canonical} | {u for v in variants for u in v[:2] if u}
    assert urls == seen
    known = known_articles(conn, sorted(seen))
    assert {k.article_id for k in known.values()} == {results[0].article_id}
    assert set(known) == seen


@pytest.mark.parametrize("lang,event", [("en", "boat-strike"), ("es", "lancha")])
def test_other_outlets_own_stories_on_the_same_strike_stay_apart(conn, lang, event) -> None:
    wire = store_article(conn, article=page(lang, event, "wire", "https://wire.com/a/1"),
                         source_id=None, match=MATCH)
    own = store_article(conn, article=page(lang, event, "independent0",
                                           "https://reporter.com/b/2"),
                        source_id=None, match=MATCH)
    next_day = store_article(conn, article=page(lang, event, "follow-up",
                                                "https://wire.com/a/3"),
                             source_id=None, match=MATCH)

    assert [r.new_story for r in (wire, own, next_day)] == [True, True, True]
    assert len({wire.story_id, own.story_id, next_day.story_id}) == 3
    assert [size for _id, _rep, size, _outlets in _stories(conn)] == [1, 1, 1]


def test_a_verbatim_copy_on_another_site_folds_into_the_article_and_adds_its_outlet(conn) -> None:
    first = store_article(conn, article=page("en", "gang-case", "wire",
                                             "https://apnews.com/article/gang-case-1",
                                             site_name="AP News"),
                          source_id=None, match=MATCH)
    copy = page("en", "gang-case", "wire", "https://www.kxan.com/news/national/gang-case-1/",
                site_name="KXAN", title="Prosecutors charge Tren de Aragua suspects")

    folded = store_article(conn, article=copy, source_id=None, match=MATCH)
    again = store_article(conn, article=copy, source_id=None, match=MATCH)

    assert (folded.outcome, folded.article_id, folded.story_id) == (
        "duplicate", first.article_id, first.story_id)
    assert (again.outcome, again.article_id) == ("duplicate", first.article_id)
    assert _count(conn, "articles") == 1
    assert _stories(conn) == [(first.story_id, first.article_id, 1, ["AP News", "KXAN"])]
    assert known_articles(conn, [copy.canonical_url])[copy.canonical_url].article_id == (
        first.article_id)


def test_short_and_empty_texts_are_kept_out_of_near_duplicate_search(conn) -> None:
    text = ("Venezuela's government condemned the strike on Tuesday and said the people killed "
            "were fishermen from Sucre state. The Pentagon did not identify them.")
    assert _signature(text) is None  # far under 100 words
    one = store_article(conn, article=page("en", "boat-strike", "wire", "https://a.com/brief",
                                           text=text), source_id=None, match=MATCH)
    edited = store_article(conn, article=page("en", "boat-strike", "wire", "https://b.com/brief",
                                              text=text.replace("Tuesday", "Wednesday")),
                           source_id=None, match=MATCH)
    verbatim = store_article(conn, article=page("en", "boat-strike", "wire",
                                                "https://c.com/brief", text=text),
                             source_id=None, match=MATCH)
    empty = [store_article(conn, article=page("en", "boat-strike", "wire",
                                              f"https://{host}/video", text=""),
                           source_id=None, match=MATCH) for host in ("d.com", "e.com")]

    assert (one.new_story, edited.new_story) == (True, True)
    assert (verbatim.outcome, verbatim.article_id) == ("duplicate", one.article_id)
    assert [r.outcome for r in empty] == ["new", "new"]
    assert empty[0].article_id != empty[1].article_id
    assert _count(conn, "article_bands") == 0
    assert conn.execute("SELECT count(*) FROM articles WHERE story_id IS NULL").fetchone()[0] == 0


def test_find_near_duplicate_returns_the_copy_and_its_story(conn) -> None:
    wire = store_article(conn, article=page("es", "discurso-maduro", "wire",
                                            "https://efe.com/discurso"),
                         source_id=None, match=MATCH)
    store_article(conn, article=page("es", "presos-politicos", "wire", "https://efe.com/presos"),
                  source_id=None, match=MATCH)

    versions = _versions()[("es", "discurso-maduro")]
    found = find_near_duplicate(conn, _signature(versions["trim-heavy"]["text"]))
    unrelated = find_near_duplicate(conn, _signature(
        _versions()[("es", "tren-de-aragua-chile")]["wire"]["text"]))

    assert found is not None
    article_id, story_id, similarity = found
    assert (article_id, story_id) == (wire.article_id, wire.story_id)
    assert 0.27 <= similarity < 1.0
    assert unrelated is None


def _snapshot(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    """Every row written by the store, minus the page's last check time."""
    queries = {
        "articles": """SELECT id, url, canonical_url, title, text, content_hash, minhash,
                              story_id, version, revised_at, discovered_at
                       FROM articles ORDER BY id""",
        "stories": "SELECT * FROM stories ORDER BY id",
        "article_urls": "SELECT * FROM article_urls ORDER BY url",
        "article_bands": "SELECT * FROM article_bands ORDER BY band_key, article_id",
        "article_versions": "SELECT * FROM article_versions ORDER BY article_id, version",
        "matches": "SELECT * FROM matches ORDER BY article_id",
    }
    return {table: conn.execute(sql).fetchall() for table, sql in queries.items()}


def test_storing_the_same_pages_again_changes_nothing(conn) -> None:
    pages = [page(lang, event, variant, url, site_name=site)
             for lang, (event, sites) in SYNDICATION.items() for variant, url, site in sites]
    pages.append(page("en", "boat-strike", "independent0", "https://reporter.com/own"))
    pages.append(page("en", "boat-strike", "wire", "https://apnews.com/article/venezuela-boat-"
                      "strike-caribbean-4b1e2c?utm_source=twitter"))
    first = [store_article(conn, article=p, source_id=None, match=MATCH, feed_url=p.url)
             for p in pages]
    before = _snapshot(conn)

    second = [store_article(conn, article=p, source_id=None, match=MATCH, feed_url=p.url)
              for p in reversed(pages)]

    assert _snapshot(conn) == before
    assert [(r.article_id, r.story_id) for r in reversed(second)] == [
        (r.article_id, r.story_id) for r in first]
    assert {r.outcome for r in second} == {"unchanged"}
    assert len(before["stories"]) == 3


# --- revisions --------------------------------------------------------------------------------

CORRECTION = {
    "en": ("boat-strike", "killing four people", "killing six people",
           ("This story has been updated to correct the number of people killed, citing a "
            "revised Defense Department statement.")),
    "es": ("lancha", "mató a las tres personas", "mató a las cuatro personas",
           ("Esta nota fue actualizada para corregir el número de fallecidos según un nuevo "
            "comunicado del Pentágono.")),
}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_an_edited_article_becomes_a_revision_of_the_same_article(conn, lang) -> None:
    event, before, after, note = CORRECTION[lang]
    url = "https://www.gulf-coast-times.com/world/strike-update"
    original = page(lang, event, "wire", url)
    edited_text = original.text.replace(before, after) + "\n\n" + note
    edited = page(lang, event, "wire", url + "?utm_source=newsletter", text=edited_text)

    first = store_article(conn, article=original, source_id=None, match=MATCH)
    revised = store_article(conn, article=edited, source_id=None, match=MATCH)
    repeat = store_article(conn, article=edited, source_id=None, match=MATCH)

    assert (first.outcome, revised.outcome, repeat.outcome) == ("new", "revision", "unchanged")
    assert revised.article_id == first.article_id and revised.story_id == first.story_id
    assert not revised.new_story
    assert _stories(conn) == [(first.story_id, first.article_id, 1, ["gulf-coast-times.com"])]
    current = conn.execute("SELECT text, version, revised_at IS NOT NULL FROM articles").fetchone()
    assert current == (edited_text, 2, True)
    version = conn.execute(
        """SELECT version, title, text, title_changed, words_added, words_removed, chars_added,
                  chars_removed, paragraphs_changed, diff FROM article_versions""").fetchall()
    assert len(version) == 1
    number, title, old_text, title_changed, w_add, w_rm, c_add, c_rm, paragraphs, diff = version[0]
    changed_old, changed_new = before.split()[-2], after.split()[-2]  # the corrected figure
    assert (number, title, old_text, title_changed) == (1, original.title, original.text, False)
    assert (w_add, w_rm) == (1 + len(note.split()), 1)
    assert (c_add, c_rm) == (len(changed_new) + len(note.replace(" ", "")), len(changed_old))
    assert paragraphs == 2
    assert f"-{_paragraph_with(original.text, before)}" in diff.splitlines()
    assert f"+{note}" in diff.splitlines()


def test_a_write_as_of_a_given_moment_stamps_every_time_with_it(conn) -> None:
    # None (the cycle's default) stamps the database's now(); a test or a replay passes one.
    new_at, copy_at, edit_at = (datetime(2025, 11, day, 9, tzinfo=UTC) for day in (4, 5, 6))
    url = "https://www.gulf-coast-times.com/world/strike-update"
    original = page("en", "boat-strike", "wire", url)
    copy = page("en", "boat-strike", "wire", "https://copy.example/strike", site_name="Copy")
    edited = page("en", "boat-strike", "wire", url,
                  text=original.text + "\n\nThis story has been updated.")

    first = store_article(conn, article=original, source_id=None, match=MATCH, now=new_at)
    times = conn.execute(
        """SELECT a.discovered_at, a.checked_at, s.first_seen_at, s.last_seen_at, m.matched_at,
                  (SELECT min(first_seen_at) FROM article_urls)
           FROM articles a JOIN stories s ON s.id = a.story_id JOIN matches m
             ON m.article_id = a.id""").fetchone()
    store_article(conn, article=copy, source_id=None, match=MATCH, now=copy_at)
    last_seen = conn.execute("SELECT last_seen_at FROM stories").fetchone()[0]
    store_article(conn, article=edited, source_id=None, match=MATCH, now=edit_at)
    revised = conn.execute(
        """SELECT a.revised_at, a.checked_at, m.matched_at, v.replaced_at
           FROM articles a JOIN matches m ON m.article_id = a.id
           JOIN article_versions v ON v.article_id = a.id WHERE a.id = %s""",
        (first.article_id,)).fetchone()

    assert times == (new_at,) * 6
    assert last_seen == copy_at  # the verbatim copy joined the story then
    assert revised == (edit_at,) * 4


def _paragraph_with(text: str, phrase: str) -> str:
    return next(p for p in text.split("\n\n") if phrase in p)


def test_cosmetic_changes_are_not_revisions_but_a_new_headline_is(conn) -> None:
    url = "https://efe.com/mundo/lancha"
    original = page("es", "lancha", "wire", url)
    cosmetic = page("es", "lancha", "wire", url,
                    text=original.text.replace("\n\n", "\n").replace(".-", ". ").upper())
    retitled = page("es", "lancha", "wire", url, title="EE.UU. ataca otra lancha: tres muertos")
    emptied = page("es", "lancha", "wire", url, text="")

    outcomes = [store_article(conn, article=p, source_id=None, match=MATCH).outcome
                for p in (original, cosmetic, emptied, retitled)]

    assert outcomes == ["new", "unchanged", "unchanged", "revision"]
    assert conn.execute("SELECT title, text FROM articles").fetchone() == (
        retitled.title, original.text)
    assert conn.execute(
        "SELECT title_changed, words_added, words_removed FROM article_versions").fetchall() == [
        (True, 0, 0)]


def test_a_copy_of_the_revised_text_still_joins_the_story(conn) -> None:
    event, before, after, note = CORRECTION["en"]
    url = "https://apnews.com/article/strike"
    original = page("en", event, "wire", url)
    edited = original.text.replace(before, after) + "\n\n" + note
    first = store_article(conn, article=original, source_id=None, match=MATCH)
    store_article(conn, article=page("en", event, "wire", url, text=edited),
                  source_id=None, match=MATCH)
    copy_text = "\n\n".join(edited.split("\n\n")[:5])  # a site that kept the first paragraphs

    copy = store_article(conn, article=page("en", event, "wire", "https://www.kxan.com/strike",
                                            text=copy_text), source_id=None, match=MATCH)

    assert (copy.outcome, copy.story_id, copy.new_story) == ("new", first.story_id, False)
    assert _stories(conn)[0][2] == 2


# --- concurrent writers -----------------------------------------------------------------------


def _store_while_another_transaction_holds(db_url: str, first: Article, second: Article):
    """Store `first` in an open transaction, start storing `second` from another connection,
    wait until that writer is blocked on our locks, then commit: the race two shards run."""

    def other_writer() -> Stored:
        with psycopg.connect(db_url, autocommit=True) as other:
            return store_article(other, article=second, source_id=None, match=MATCH)

    # The pool is entered first so that, if an assertion fails, the holder's transaction
    # ends before the pool waits for the writer it blocks.
    with (ThreadPoolExecutor(max_workers=1) as pool, psycopg.connect(db_url) as holder,
          psycopg.connect(db_url, autocommit=True) as probe):
        holder.execute("SELECT 1")  # open the transaction that store_article nests in
        stored_first = store_article(holder, article=first, source_id=None, match=MATCH)
        pending = pool.submit(other_writer)
        wait_until_blocked(probe, pending)
        holder.commit()
        return stored_first, pending.result(timeout=30)


def test_two_writers_storing_copies_at_once_end_in_one_story(db_url, conn) -> None:
    first, second = _store_while_another_transaction_holds(
        db_url,
        page("en", "maduro-speech", "wire", "https://apnews.com/maduro-speech"),
        page("en", "maduro-speech", "combo", "https://www.kxan.com/maduro-speech"),
    )

    assert (first.outcome, second.outcome) == ("new", "new")
    assert second.story_id == first.story_id and not second.new_story
    assert [size for _id, _rep, size, _outlets in _stories(conn)] == [2]


def test_two_writers_storing_one_page_at_once_store_it_once(db_url, conn) -> None:
    one = page("es", "presos-politicos", "wire", "https://efe.com/presos?utm_source=a")
    same = page("es", "presos-politicos", "wire", "https://efe.com/presos?utm_source=b")

    first, second = _store_while_another_transaction_holds(db_url, one, same)

    assert (first.outcome, second.outcome) == ("new", "unchanged")
    assert second.article_id == first.article_id
    assert _count(conn, "articles") == 1 and _count(conn, "stories") == 1
