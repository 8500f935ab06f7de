"""Events for researchers and for evaluation: `newsmon cluster` and `newsmon eval-events`.

``cluster_items`` runs labelled or unlabelled articles through the cycle's own story and
event assignment (``store_article``) in a scratch database, in publication order;
``bcubed`` scores the groups it found against gold events.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from pipeline.match import load_watchlist, match_article
from pipeline.match.language import detect_language, normalise_language
from pipeline.models import Article, Source, record
from pipeline.store import apply_migrations, connect
from pipeline.text import MAX_URL, clean_text, clean_title

CLUSTER_SOURCE = "cluster"


class BadItem(ValueError):
    """An input line that cannot be clustered: the message says why."""


@record
class Item:
    """One article to cluster, as read from a JSONL line."""

    line: int
    id: Any
    title: str
    text: str
    lang: str | None
    outlet: str | None
    url: str
    published_at: datetime
    gold: str | None = None


@record
class Placed:
    """Where an item landed: its story and event ids, or why it could not be stored."""

    item: Item
    story: int | None = None
    event: int | None = None
    error: str | None = None


def read_items(lines: Iterable[str]) -> Iterator[Item | BadItem]:
    """Items from JSONL lines; a line that cannot be read yields a BadItem saying why."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield _item(number, json.loads(line))
        except (ValueError, TypeError, AttributeError) as exc:
            yield BadItem(f"line {number}: {exc}")


def _item(number: int, data: dict[str, Any]) -> Item:
    if not isinstance(data, dict):
        raise BadItem("not a JSON object")
    if data.get("id") is None:
        raise BadItem('no "id"')
    raw_time = data.get("published_at")
    if not isinstance(raw_time, str):
        raise BadItem('"published_at" must be an ISO 8601 time')
    published = datetime.fromisoformat(raw_time.strip())
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    title = clean_title(data.get("title"))
    text = clean_text(data.get("text"))
    if not title and not text:
        raise BadItem("neither title nor text")
    url = clean_text(data.get("url"), limit=MAX_URL)
    if not url.startswith(("http://", "https://")):
        # A URL of its own per item: two items are one page only if they say so.
        url = f"https://cluster.invalid/{uuid.uuid5(uuid.NAMESPACE_URL, str(data['id'])).hex}"
    lang = normalise_language(data.get("lang")) or detect_language(f"{title}\n{text}")
    outlet = clean_title(data.get("outlet"), limit=200) or None
    gold = data.get("event")
    return Item(line=number, id=data["id"], title=title, text=text, lang=lang, outlet=outlet,
                url=url, published_at=published, gold=None if gold is None else str(gold))


@contextlib.contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A fresh, migrated database on the server of ``admin_url`` (which may create
    databases), dropped afterwards."""
    name = f"newsmon_cluster_{uuid.uuid4().hex[:12]}"
    ident = sql.Identifier(name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    params = psycopg.conninfo.conninfo_to_dict(admin_url)
    params["dbname"] = name
    url = psycopg.conninfo.make_conninfo(**params)
    try:
        with connect(url, autocommit=True) as conn:
            apply_migrations(conn)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def cluster_items(db_url: str, items: Sequence[Item], *, watchlist: str) -> list[Placed]:
    """Store the items in publication order (input order breaks ties) through the cycle's
    ``store_article``, as of their publication times; each in its own transaction, so one
    that fails is reported and the rest go on. Returns them in input order."""
    from pipeline.store.articles import store_article
    from pipeline.store.sources import sync_sources

    wl = load_watchlist(watchlist)
    placed: dict[int, Placed] = {}
    with connect(db_url, autocommit=True) as conn:
        source = sync_sources(conn, [Source(name=CLUSTER_SOURCE, url="https://cluster.invalid/",
                                            kind="rss")])[0]
        for index in sorted(range(len(items)), key=lambda i: (items[i].published_at, i)):
            item = items[index]
            article = Article(url=item.url, canonical_url="", title=item.title, text=item.text,
                              lang=item.lang, published_at=item.published_at,
                              site_name=item.outlet)
            try:
                match = match_article(wl, title=item.title, text=item.text, lang=item.lang)
                with conn.transaction():
                    stored = store_article(conn, article=article, source_id=source.id,
                                           match=match, now=item.published_at)
                    event = conn.execute("SELECT event_id FROM stories WHERE id = %s",
                                         (stored.story_id,)).fetchone()
            except (psycopg.Error, ValueError) as exc:
                placed[index] = Placed(item=item, error=f"{type(exc).__name__}: {exc}")
                continue
            placed[index] = Placed(item=item, story=stored.story_id,
                                   event=event[0] if event else None)
    return [placed[i] for i in range(len(items))]


# --- evaluation ------------------------------------------------------------------------------


@record
class Scores:
    precision: float
    recall: float
    f1: float
    items: int  # items (or, cross-language, items with a pair in another language) scored


def bcubed(gold: Sequence[str], found: Sequence[object], langs: Sequence[str | None] = (),
           *, cross_language: bool = False) -> Scores:
    """B-cubed precision and recall: per item, the share of its found group that is in its
    gold group and the share of its gold group that was found with it; averaged over items.

    ``cross_language``: only pairs of items in different languages count; an item is
    averaged in precision when its found group has another-language item, in recall when
    its gold group has one."""
    n = len(gold)
    precisions, recalls = [], []
    for i in range(n):
        def counts(j: int, i: int = i) -> bool:
            if cross_language:
                return langs[i] is not None and langs[j] is not None and langs[i] != langs[j]
            return True

        same_found = [j for j in range(n) if found[j] == found[i] and counts(j)]
        same_gold = [j for j in range(n) if gold[j] == gold[i] and counts(j)]
        both = sum(1 for j in same_found if gold[j] == gold[i])
        if same_found:
            precisions.append(both / len(same_found))
        if same_gold:
            recalls.append(both / len(same_gold))
    p = sum(precisions) / len(precisions) if precisions else 1.0
    r = sum(recalls) / len(recalls) if recalls else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Scores(precision=p, recall=r, f1=f1, items=max(len(precisions), len(recalls)))
