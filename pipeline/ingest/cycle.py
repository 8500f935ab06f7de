"""One ingestion cycle: poll -> fetch -> extract -> match -> dedup -> load.

The CLI and the Airflow DAGs both call `run_cycle`. Network work runs in one
event loop, extraction in a process pool, so neither waits for the other.

Between poll and fetch, Google News links that only Google can resolve are looked up
(`_Cycle.resolve_links`, through the id cache in `store.links`). An entry left without a
publisher URL is never fetched: it settles as "unresolved", judged on its title, publisher
and snippet alone, and is looked up again when the cache says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property, partial

import psycopg

from pipeline.alerts import queue_alerts
from pipeline.config import Settings
from pipeline.dedup.keys import TextKeys, canonical_url, text_keys
from pipeline.dedup.revisions import should_refetch
from pipeline.extract.page import ExtractError, extract_article
from pipeline.extract.pool import ExtractPool
from pipeline.http import FetchError, HttpClient
from pipeline.ingest import poll as polling
from pipeline.ingest.judge import Fulltext, early_verdict, judge_entry, judge_fulltext
from pipeline.match import Watchlist, detect_language, load_watchlist
from pipeline.models import Article, FeedItem, Match, Outcome, Response, Source
from pipeline.sources import FeedParseError, google_news, request_url
from pipeline.store import (
    DatabaseUnavailable,
    connect,
    connect_for_ingest,
    database_error,
    is_connection_lost,
    links,
    queries,
    roles,
)
from pipeline.store import sources as stored_sources
from pipeline.store.articles import (
    KnownArticle,
    NotAnArticle,
    StoreOutcome,
    known_articles,
    source_baseline,
    store_article,
)
from pipeline.store.raw import drop_raw, save_raw
from pipeline.text import MAX_URL, strip_controls
from pipeline.urls import host_of

log = logging.getLogger(__name__)


Observer = Callable[[str, int], None]  # ("items-found" | "item-done", count)


@dataclass(slots=True)
class RunSummary:
    run_id: int | None = None
    sources_polled: int = 0
    sources_not_modified: int = 0
    sources_failed: int = 0
    items_seen: int = 0
    outcomes: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    skipped_locked: bool = False
    sources_busy: int = 0  # skipped: another cycle or shard was polling them
    unresolved_relevant: int = 0  # unresolved entries whose title and snippet are relevant

    @property
    def new_articles(self) -> int:
        return self.outcomes[Outcome.NEW_RELEVANT] + self.outcomes[Outcome.NEW_IRRELEVANT]

    def as_dict(self) -> dict:
        return {
            "sources_polled": self.sources_polled,
            "sources_not_modified": self.sources_not_modified,
            "sources_failed": self.sources_failed,
            "sources_busy": self.sources_busy,
            "items_seen": self.items_seen,
            "new_articles": self.new_articles,
            "relevant": self.outcomes[Outcome.NEW_RELEVANT],
            "duplicates": self.outcomes[Outcome.DUPLICATE],
            "revised": self.outcomes[Outcome.REVISED],
            "already_seen": self.outcomes[Outcome.ALREADY_SEEN],
            "failed_fetch": self.outcomes[Outcome.FAILED_FETCH],
            "failed_extract": self.outcomes[Outcome.FAILED_EXTRACT],
            "failed_store": self.outcomes[Outcome.FAILED_STORE],
            "rejected": self.outcomes[Outcome.REJECTED],
            "unresolved": self.outcomes[Outcome.UNRESOLVED],
            "unresolved_relevant": self.unresolved_relevant,
            "errors": len(self.errors),
        }

    def error_lines(self, limit: int = 20) -> list[str]:
        """The first `limit` errors, then how many more: a run over hundreds of dead feeds
        must not bury the rest of its report (the full record is in the database)."""
        lines = self.errors[:limit]
        if len(self.errors) > limit:
            lines.append(f"... and {len(self.errors) - limit} more errors "
                         "(see fetch_log, feed_items)")
        return lines


def run_cycle(settings: Settings, *, sources: list[Source], db_url: str,
              observer: Observer | None = None, due_only: bool = False) -> RunSummary:
    """One whole cycle in this process. Raises DatabaseUnavailable, or DatabaseError when
    the database refuses the cycle's own bookkeeping (never for one item or one source).

    Polls every registered source, or with `due_only` those whose schedule says
    so. A second cycle started while one runs skips instead of doing the work twice.
    """
    try:
        return _run_locked(settings, sources=sources, db_url=db_url, observer=observer,
                           due_only=due_only)
    except psycopg.Error as exc:  # e.g. the server restarted under the cycle
        # Each stored item is its own transaction, so the next cycle picks up the rest.
        raise database_error(exc, during="during the cycle") from exc


def _run_locked(settings: Settings, *, sources: list[Source], db_url: str,
                observer: Observer | None, due_only: bool) -> RunSummary:
    with connect(db_url, autocommit=True) as lock_conn:
        if not queries.try_cycle_lock(lock_conn):
            log.warning("run: another cycle holds the lock; skipping this one")
            return RunSummary(skipped_locked=True)
        try:
            return _run_holding_lock(settings, lock_conn, sources=sources, db_url=db_url,
                                     observer=observer, due_only=due_only)
        finally:
            with contextlib.suppress(psycopg.Error):  # a lost session has lost its lock too
                queries.release_locks(lock_conn)


def _run_holding_lock(settings: Settings, lock_conn: psycopg.Connection, *,
                      sources: list[Source], db_url: str, observer: Observer | None,
                      due_only: bool) -> RunSummary:
    roles.stop_overdue_readers(lock_conn)
    queries.close_interrupted_runs(lock_conn)
    chosen = stored_sources.registered_sources(lock_conn, sources)
    if due_only:
        chosen = stored_sources.due_sources(lock_conn, chosen)
    ids = [s.id for s in chosen]
    run_id = queries.start_run(lock_conn)
    with _failed_on_error(db_url, run_id):
        summary = run_shard(settings, db_url=db_url, run_id=run_id, source_ids=ids,
                            observer=observer)
    finish_run(db_url, run_id=run_id)
    return summary


def prepare_run(settings: Settings, *, db_url: str, sources: list[Source],
                external_id: str | None = None) -> int:
    """Register the sources and open the cycle's row; returns the run id."""
    with connect(db_url, autocommit=True) as conn:
        stored_sources.registered_sources(conn, sources)
        return queries.start_run(conn, external_id)


def plan_shards(db_url: str, *, sources: list[Source], max_shards: int) -> list[list[int]]:
    """Split the sources into at most `max_shards` groups, never splitting a host.

    One slow host then holds up one shard only, and the per-host cap holds
    across workers because a host is polled from one place.
    """
    with connect(db_url, autocommit=True) as conn:
        stored = stored_sources.due_sources(conn, stored_sources.registered_sources(conn, sources))
    by_host: dict[str, list[int]] = {}
    for source in stored:
        by_host.setdefault(host_of(source.url), []).append(source.id)
    shards: list[list[int]] = [[] for _ in range(max(1, min(max_shards, len(by_host))))]
    for ids in sorted(by_host.values(), key=len, reverse=True):
        min(shards, key=len).extend(ids)
    return [sorted(shard) for shard in shards if shard]


def run_shard(settings: Settings, *, db_url: str, run_id: int, source_ids: list[int],
              shard: str = "all", observer: Observer | None = None) -> RunSummary:
    """Poll and ingest some sources of a cycle; a retry overwrites the shard's counts.

    A source another cycle or shard is polling (CLI and Airflow alike) is skipped and
    counted as busy: its lock lives as long as this shard's connection.
    """
    with connect_for_ingest(db_url) as conn:
        sources = stored_sources.enabled_sources(conn, ids=source_ids)
        locked = queries.lock_free_sources(conn, [s.id for s in sources])
        free = [s for s in sources if s.id in locked]
        summary = asyncio.run(_Cycle(settings, conn, run_id, observer).run(free))
        summary.sources_busy = len(sources) - len(free)
        queries.save_shard(conn, run_id, shard, summary.as_dict())
        queries.release_locks(conn)
    return summary


def finish_run(db_url: str, *, run_id: int, status: str = "completed",
               error: str | None = None) -> dict:
    with connect(db_url, autocommit=True) as conn:
        return queries.finish_run(conn, run_id, status=status, error=error)


@contextlib.contextmanager
def _failed_on_error(db_url: str, run_id: int) -> Iterator[None]:
    """Close the run as failed, with its error, if the body raises: no run stays 'running'."""
    try:
        yield
    except BaseException as exc:
        error = (str(database_error(exc, during="during the cycle"))
                 if isinstance(exc, psycopg.Error) else f"{type(exc).__name__}: {exc}")
        try:
            finish_run(db_url, run_id=run_id, status="failed", error=strip_controls(error))
        except (psycopg.Error, DatabaseUnavailable) as closing:
            # The database is gone; the next cycle closes the run (close_interrupted_runs).
            log.warning("run: could not mark run %s failed: %s", run_id, closing)
        raise


class _Cycle:
    def __init__(self, settings: Settings, conn: psycopg.Connection, run_id: int,
                 observer: Observer | None) -> None:
        self.settings = settings
        self.conn = conn
        self.notify = observer or (lambda _event, _n: None)
        self.summary = RunSummary(run_id=run_id)
        self._db_lock = asyncio.Lock()
        self._baselines: dict[int | None, int | None] = {}
        # Google News lookups: a budget for the whole cycle, made one source at a time,
        # and none at all once Google was unreachable or busy (why, for the entries left).
        self._lookups_left = max(0, settings.google_news_resolve_per_cycle)
        self._lookup_lock = asyncio.Lock()
        self._lookups_halted: str | None = None

    @cached_property
    def watchlist(self) -> Watchlist:
        # compiled at the first page to judge: a cycle of unchanged feeds never needs it
        return load_watchlist(self.settings.watchlist)

    async def db(self, fn: Callable, /, *args: object, **kwargs: object):
        """Run one query function on the shared connection, off the event loop."""
        async with self._db_lock:
            return await asyncio.to_thread(fn, self.conn, *args, **kwargs)

    async def run(self, sources: list[Source]) -> RunSummary:
        workers = self.settings.extract_workers or os.cpu_count() or 1
        # Pages in flight (fetching, waiting for a worker, being stored): enough to keep
        # every connection and worker busy. Without a bound the network outruns extraction
        # and every fetched page waits in memory, so a cycle's memory grew with its size.
        self._slots = asyncio.Semaphore(self.settings.concurrency + 2 * workers)
        self._host_gates: dict[str, asyncio.Semaphore] = {}
        # Started at the first page to extract: a cycle where every feed answers 304 then
        # never pays for worker processes and their warm-up.
        self._pool: ExtractPool | None = None
        self._new_pool = partial(ExtractPool, workers=workers,
                                 timeout_s=self.settings.extract_timeout_s,
                                 memory_limit=self.settings.worker_memory_mb << 20,
                                 extract_fn=partial(extract_page,
                                                    watchlist=self.settings.watchlist))
        self._poll_states = await self.db(stored_sources.poll_states, [s.id for s in sources])
        async with HttpClient(self.settings) as client:
            client.pace(host_of(self.settings.google_news_url),
                        self.settings.google_news_interval_s)
            self.client = client
            try:
                await asyncio.gather(*(self.poll_source(source) for source in sources))
            finally:
                if self._pool is not None:
                    self._pool.close()
        return self.summary

    @property
    def pool(self) -> ExtractPool:
        if self._pool is None:
            self._pool = self._new_pool().start()
        return self._pool

    async def poll_source(self, source: Source) -> None:
        """Poll one source and ingest its new entries.

        Whatever goes wrong fails this source alone, recorded in its poll record and the
        summary; only a lost database ends the cycle.
        """
        state = self._poll_states[source.id]
        started = time.monotonic()
        try:
            result = await polling.poll_source(self.client, source, etag=state.etag,
                                               last_modified=state.last_modified,
                                               run=self.in_worker)
            fresh = await self.ingest_entries(source, result)
            await self.db(polling.record_poll, source, result, run_id=self.summary.run_id,
                          items_new=len(fresh), health=state.health)
        except Exception as exc:
            if is_connection_lost(exc):
                raise
            log.exception("run: source %s failed unexpectedly", source.name)
            result = await self.record_failed_source(source, exc, started=started,
                                                     state=state)
        if result.status == "error":
            self.summary.sources_failed += 1
            self.summary.errors.append(f"{source.name}: {result.error}")
        elif result.status == "not-modified":
            self.summary.sources_not_modified += 1
        else:
            self.summary.sources_polled += 1

    async def ingest_entries(self, source: Source,
                             result: polling.PollResult) -> list[tuple[str, FeedItem]]:
        """Process the entries of a successful poll; returns those that were new."""
        if result.status in ("error", "not-modified"):
            return []
        fresh = await self.fresh_items(source, result.items)
        self.notify("items-found", len(fresh))
        # Every entry finishes before an unexpected error fails the source.
        done = await asyncio.gather(*(self.process_item(source, key, item)
                                      for key, item in fresh), return_exceptions=True)
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome
        return fresh

    async def record_failed_source(self, source: Source, exc: Exception, *, started: float,
                                   state: stored_sources.PollState) -> polling.PollResult:
        """Record a poll that failed on something unexpected (a bug, a database refusal)."""
        error = (database_error(exc, during=f"while ingesting {source.name}")
                 if isinstance(exc, psycopg.Error)
                 else RuntimeError(f"run: unexpected {type(exc).__name__}: {exc}"))
        result = polling.PollResult(
            status="error", started=started, url=source.url,
            error=RuntimeError(strip_controls(str(error))),
            policy=polling.SchedulePolicy.from_settings(self.settings))
        try:
            await self.db(polling.record_poll, source, result, run_id=self.summary.run_id,
                          items_new=0, health=state.health)
        except psycopg.Error as failed:
            if is_connection_lost(failed):
                raise
            log.error("run: could not record the failure of %s: %s", source.name, failed)
        return result

    async def in_worker(self, fn: Callable, /, *args: object, **kwargs: object):
        """Parse in the extraction workers (`polling.poll_source`'s runner): a huge feed
        then stalls a worker, never the event loop and every other source's requests."""
        try:
            return await self.pool.call(fn, *args, **kwargs)
        except ExtractError as exc:  # out of time or memory, or the worker died
            raise FeedParseError(f"parse: {exc.message} in a worker") from None

    async def fresh_items(self, source: Source, items: list[FeedItem]) -> list[tuple[str, FeedItem]]:
        """The entries worth fetching: not settled before and not stored under any URL,
        or stored but updated since we fetched them (``should_refetch``: maybe a revision).

        Entries keep the key of the link the feed gave, whatever URL a lookup finds for it.
        One without a publisher URL is recorded unresolved, again only when a lookup made
        now failed (the first time it was seen, it is recorded whatever the reason).
        """
        by_key: dict[str, FeedItem] = {}
        for item in items:
            item = replace(item, url=canonical_url(item.url))
            by_key.setdefault(item_key(item), item)  # duplicate guids inside one feed
        self.summary.items_seen += len(by_key)
        settled = await self.db(queries.settled_item_keys, source.id, list(by_key))
        by_key, looked_up = await self.resolve_links(source, by_key, settled)
        waiting = [key for key, item in by_key.items()
                   if item.unresolved and key not in settled and key not in looked_up]
        recorded = (await self.db(queries.unresolved_item_keys, source.id, waiting)
                    if waiting else set())
        known = await self.db(known_articles, [i.url for i in by_key.values()
                                               if len(i.url) <= MAX_URL])
        now = datetime.now(UTC)
        fresh = []
        for key, item in by_key.items():
            stored = known.get(item.url)
            if len(item.url) > MAX_URL and key not in settled:
                # Never fetched; recorded (cut to fit) so the operator sees what was refused.
                await self.record(source, key, replace(item, url=item.url[: MAX_URL - 1] + "…"),
                                  Outcome.REJECTED,
                                  error=f"url: {len(item.url):,} characters, over the "
                                        f"{MAX_URL:,} limit")
            elif stored is not None and _updated_since_fetched(item, stored, now=now):
                fresh.append((key, item))
            elif key in settled or (item.unresolved and key in recorded):
                self.summary.outcomes[Outcome.ALREADY_SEEN] += 1
            elif item.unresolved:
                await self.record_unresolved(source, key, item)
            elif stored is not None:  # announced by another feed, or under another guid
                await self.record(source, key, item, Outcome.DUPLICATE,
                                  article_id=stored.article_id)
            else:
                fresh.append((key, item))
        return fresh

    async def resolve_links(self, source: Source, by_key: dict[str, FeedItem],
                            settled: set[str]) -> tuple[dict[str, FeedItem], set[str]]:
        """Publisher URLs for the unsettled entries whose Google News link holds an id only
        Google can resolve: from the id cache, else asked of Google within the cycle's
        budget. Returns the entries (found ones now carry the publisher URL, the others why
        they have none) and the keys whose id was asked of Google now."""
        ids = {key: article_id for key, item in by_key.items()
               if key not in settled and (article_id := google_news.opaque_id(item.url))}
        if not ids:
            return by_key, set()
        # One source at a time: another feed listing the same id then finds the answer in
        # the cache instead of asking Google twice.
        async with self._lookup_lock:
            cached = await self.db(links.cached_links, set(ids.values()))
            now = datetime.now(UTC)
            due = [i for i in dict.fromkeys(ids.values())
                   if i not in cached or cached[i].is_due(now)]
            ask = [] if self._lookups_halted else due[: self._lookups_left]
            self._lookups_left -= len(ask)
            lookups = {}
            if ask:
                lookups = await google_news.resolve_ids(
                    self.client, ask, base_url=self.settings.google_news_url,
                    edition=google_news.edition(request_url(source)))
            made = {i: lookup for i, lookup in lookups.items() if lookup.asked}
            self._lookups_halted = self._lookups_halted or next(
                (lookup.halt for lookup in made.values() if lookup.halt), None)
            if made:
                await self.db(links.save_links,
                              found={i: lookup.url for i, lookup in made.items() if lookup.url},
                              failed={i: strip_controls(lookup.reason or "resolve: no URL")
                                      for i, lookup in made.items() if not lookup.url})
        resolved = dict(by_key)
        for key, article_id in ids.items():
            item, lookup, cache = by_key[key], lookups.get(article_id), cached.get(article_id)
            url = lookup.url if lookup else cache.url if cache else None
            if url:
                resolved[key] = replace(item, url=canonical_url(url), link=item.link or item.url,
                                        unresolved=None)
            else:
                resolved[key] = replace(item,
                                        unresolved=self._not_resolved(lookup, cache, now=now))
        return resolved, {key for key, article_id in ids.items() if article_id in made}

    def _not_resolved(self, lookup: google_news.Lookup | None, cache: links.CachedLink | None,
                      *, now: datetime) -> str:
        """Why an entry has no publisher URL after `resolve_links`."""
        if lookup is not None:
            return lookup.reason or "resolve: no URL"
        if cache is not None and not cache.is_due(now):
            when = cache.next_try_at.isoformat(timespec="minutes") if cache.next_try_at else "?"
            return f"{cache.reason} (looked up {cache.attempts}x; next lookup after {when})"
        if self._lookups_halted:
            return self._lookups_halted
        cap = self.settings.google_news_resolve_per_cycle
        if cap <= 0:
            return "resolve: Google News lookups are off (NEWSMON_GOOGLE_NEWS_RESOLVE_PER_CYCLE=0)"
        return (f"resolve: not looked up yet: this cycle's {cap} Google News lookups are spent "
                "(NEWSMON_GOOGLE_NEWS_RESOLVE_PER_CYCLE)")

    async def record_unresolved(self, source: Source, key: str, item: FeedItem) -> None:
        """An entry with no publisher URL: never fetched, judged on the entry alone."""
        match = judge_entry(item, self.watchlist)
        reason = strip_controls(item.unresolved or "resolve: no URL")
        self.summary.outcomes[Outcome.UNRESOLVED] += 1
        self.summary.unresolved_relevant += match.relevant
        self.summary.errors.append(f"{item.url}: {reason}")
        await self.record_row(item.url, queries.record_unresolved, source_id=source.id,
                              item_key=key, url=item.url, title=item.title, reason=reason,
                              publisher=item.publisher, summary=item.summary, match=match)

    async def process_item(self, source: Source, key: str, item: FeedItem) -> None:
        if item.body is not None:  # the source delivered the text: there is no page to fetch
            async with self._slots:
                await self.ingest_delivered(source, key, item)
            return
        # A host's entries queue at its own gate (as many as the client's per-host cap)
        # before taking a slot, so a slow host holds a few slots, never all of them.
        gate = self._host_gates.setdefault(
            host_of(item.url), asyncio.Semaphore(self.settings.per_host_concurrency))
        try:
            async with gate:
                await self._slots.acquire()
                try:
                    response = await self.client.fetch(item.url, robots=True)
                except BaseException:
                    self._slots.release()
                    raise
        except FetchError as exc:
            await self.record(source, key, item, Outcome.FAILED_FETCH, error=str(exc))
            return
        try:
            await self.ingest(source, key, item, response)
        finally:
            self._slots.release()

    async def ingest(self, source: Source, key: str, item: FeedItem, response: Response) -> None:
        """Extract, judge and store one fetched page."""
        try:
            page: ExtractedPage = await self.pool.extract(
                response.body, url=response.url,
                content_type=response.headers.get("content-type"))
        except ExtractError as exc:
            await self.record(source, key, item, Outcome.FAILED_EXTRACT, error=str(exc))
            return
        await self.judge_and_store(source, key, item, page, page_date=page.article.published_at,
                                   response=response)

    async def ingest_delivered(self, source: Source, key: str, item: FeedItem) -> None:
        """Judge and store the text a source delivered with its entry (FeedItem.body)."""
        try:
            page: ExtractedPage = await self.pool.call(
                delivered_page, item, source_language=source.language,
                watchlist=self.settings.watchlist)
        except ExtractError as exc:  # out of time or memory, or the worker died
            await self.record(source, key, item, Outcome.FAILED_EXTRACT, error=str(exc))
            return
        # The source's date is the entry's (feed) date; there is no page to state another.
        await self.judge_and_store(source, key, item, page, page_date=None, response=None)

    async def judge_and_store(self, source: Source, key: str, item: FeedItem,
                              page: ExtractedPage, *, page_date: datetime | None,
                              response: Response | None) -> None:
        """Judge a text (dates, completeness, verdict) and store it with the entry's
        outcome; `response` is the fetched page to archive, None for a delivered text."""
        article = complete_article(page.article, item, source)
        full = judge_fulltext(article=article, item=item, page_date=page_date,
                              early_match=page.match, watchlist=self.watchlist,
                              baseline_chars=await self.baseline(source))
        try:
            outcome = await self.db(
                _store_with_item, source=source, key=key, item=item, article=article,
                full=full, response=response, keys=page.keys,
                alert_window_hours=self.settings.alert_window_hours,
            )
        except NotAnArticle as exc:  # an aggregator's page: its text is not news
            await self.record(source, key, item, Outcome.FAILED_STORE, error=str(exc))
            return
        except (psycopg.Error, UnicodeError) as exc:  # UnicodeError: a value not UTF-8 encodable
            if is_connection_lost(exc):
                raise
            # The item's transaction rolled back alone; the rest of the cycle goes on.
            await self.record(source, key, item, Outcome.FAILED_STORE,
                              error=f"store: {type(exc).__name__}: {exc}")
            return
        self.summary.outcomes[outcome] += 1
        self.notify("item-done", 1)

    async def baseline(self, source: Source) -> int | None:
        """The source's usual text length (teaser detection), read once per cycle."""
        if source.id not in self._baselines:
            self._baselines[source.id] = await self.db(source_baseline, source_id=source.id)
        return self._baselines[source.id]

    async def record(self, source: Source, key: str, item: FeedItem, outcome: Outcome, *,
                     article_id: int | None = None, error: str | None = None) -> None:
        self.summary.outcomes[outcome] += 1
        if error:
            error = strip_controls(error)  # database messages can quote the value they refused
            self.summary.errors.append(f"{item.url}: {error}")
        await self.record_row(item.url, queries.record_item, source_id=source.id,
                              item_key=key, url=item.url, title=item.title, outcome=outcome,
                              article_id=article_id, error=error)

    async def record_row(self, url: str, write: Callable, /, **row: object) -> None:
        """Write an entry's feed_items row; a refused row is logged and counted, and only a
        lost connection ends the cycle. The entry is done either way."""
        try:
            await self.db(write, **row)
        except psycopg.Error as exc:
            if is_connection_lost(exc):
                raise
            not_recorded = database_error(exc, during="recording the entry")
            log.error("run: %s not recorded: %s", url, not_recorded)
            self.summary.errors.append(f"{url}: not recorded: {not_recorded}")
        self.notify("item-done", 1)


def item_key(item: FeedItem) -> str:
    """The entry's key in feed_items: its guid, else its link; a digest if too long to index."""
    key = item.guid or item.url
    if len(key) <= MAX_URL:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _updated_since_fetched(item: FeedItem, stored: KnownArticle, *, now: datetime) -> bool:
    return should_refetch(entry_updated_at=item.updated_at, checked_at=stored.checked_at,
                          discovered_at=stored.discovered_at,
                          published_at=stored.published_at, now=now)


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    """What an extraction worker sends back: the article, and the work that needs only
    its text, done there so the cycle's own process is left with I/O."""

    article: Article
    keys: TextKeys  # stories.text_keys of the text
    match: Match | None  # judge.early_verdict: the text verdict, if the page settles it


def extract_page(body: bytes, *, url: str, content_type: str | None = None,
                 watchlist: str) -> ExtractedPage:
    """Runs in an extraction worker (ExtractPool's `extract_fn`)."""
    article = extract_article(body, url=url, content_type=content_type)
    return ExtractedPage(article=article, keys=text_keys(article.text),
                         match=early_verdict(article, watchlist))


def complete_article(article: Article, item: FeedItem, source: Source) -> Article:
    """Fill what the page lacked from the feed entry; canonicalise the URL."""
    lang = article.lang or detect_language(article.text) or item.language or source.language
    return replace(
        article,
        canonical_url=canonical_url(article.url, page_canonical=article.page_canonical_url),
        title=article.title or item.title,
        author=article.author or item.author,
        published_at=article.published_at or item.published_at,
        lang=lang,
    )


def delivered_page(item: FeedItem, *, source_language: str | None,
                   watchlist: str) -> ExtractedPage:
    """`extract_page` for a text the source delivered (FeedItem.body): nothing to extract,
    the same keys and verdict. Runs in an extraction worker (ExtractPool.call)."""
    text = item.body or ""
    article = Article(url=item.url, canonical_url=canonical_url(item.url), title=item.title,
                      text=text, author=item.author, published_at=item.published_at,
                      lang=item.language or detect_language(text) or source_language,
                      description=item.summary or None, extraction_mode="api")
    return ExtractedPage(article=article, keys=text_keys(text),
                         match=early_verdict(article, watchlist))


def _store_with_item(conn: psycopg.Connection, *, source: Source, key: str, item: FeedItem,
                     article: Article, full: Fulltext, response: Response | None,
                     keys: TextKeys | None = None,
                     alert_window_hours: float = 24.0) -> Outcome:
    """Article, verdict and the entry's outcome in one transaction."""
    match = full.match
    # Pipeline mode: statements whose results are not needed (the writes) travel with the
    # next one that is, instead of a round trip each.
    with conn.pipeline(), conn.transaction():
        stored = store_article(conn, article=article, source_id=source.id, match=match,
                               feed_url=item.url, keys=keys,
                               columns=full.columns(article))
        if stored.outcome == StoreOutcome.NEW:
            _archive(conn, article_id=stored.article_id, response=response)
            outcome = Outcome.NEW_RELEVANT if match.relevant else Outcome.NEW_IRRELEVANT
            if match.relevant:  # unique per (subscriber, story): a copy in a known story adds none
                queue_alerts(conn, article_id=stored.article_id, story_id=stored.story_id,
                             match=match, published_at=full.published_at,
                             window_hours=alert_window_hours)
        elif stored.outcome == StoreOutcome.REVISION:
            outcome = Outcome.REVISED
            _archive(conn, article_id=stored.article_id, response=response)
        else:  # a known page, unchanged, or a verbatim copy of a stored article
            outcome = Outcome.DUPLICATE
        queries.record_item(conn, source_id=source.id, item_key=key, url=item.url,
                            title=item.title, outcome=outcome, article_id=stored.article_id)
    return outcome


def _archive(conn: psycopg.Connection, *, article_id: int, response: Response | None) -> None:
    """Keep the page whose text is stored, for re-extraction. A text the source delivered
    has no page: a page archived earlier for the article no longer holds its text, and
    re-extracting it would undo the new one, so it goes."""
    if response is not None:
        save_raw(conn, article_id=article_id, response=response)
    else:
        drop_raw(conn, article_id=article_id)
