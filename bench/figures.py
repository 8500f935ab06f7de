"""The figures. Each is a ratio: against a bare baseline measured in the same run, or, for
P8 (latency), against the bound its schedules set.

Every function takes a `Context` and returns a dict with at least `ratio`, `target`, `met`
and the absolute numbers behind the ratio. Repetitions alternate baseline and measured
runs, so a burst of load from elsewhere on the machine hits both; the median is kept.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench import bench_latency
from bench.harness import Databases, Stopwatch, median, run_child
from bench.internet import CORPUS_DIR, Internet, Plan, conditional_requests, generated_pages
from pipeline.config import load_settings


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizes:
    reps: int
    p1_reps: int  # each P1 repetition is two runs over 5,000+ pages: minutes
    p1: Plan
    p2: Plan
    p3_small: int
    p3_large: int
    p3_queries: int
    p4_rows: int
    p5_texts: int
    p6_small: Plan
    p6_large: Plan
    p9_pages: int | None  # pages per corpus (None: all)
    p7_archive: int  # articles in the archive store
    p7: Plan  # the new articles of each P7 cycle
    p8: bench_latency.Size
    settings: dict[str, Any] = field(default_factory=dict)  # cycle settings overrides


# P1: 254 answering hosts (4 of them slow) x 21 articles = 5,334 pages (a few are verbatim
# copies of another page's text, so about 5,170 new articles), plus 4 failing hosts.
FULL = Sizes(
    reps=3,
    p1_reps=2,  # with P6's 20k-article cycle, keeps `python -m bench` near 20 min on 2 cores
    p1=Plan(hosts=258, items_per_feed=21, slow_hosts=4, failing_hosts=4, block=61),
    p2=Plan(hosts=250, feeds_per_host=4, items_per_feed=1, pages="light", slow_hosts=0,
            failing_hosts=0, block=62),
    p3_small=10_000,
    p3_large=1_000_000,
    p3_queries=200,
    p4_rows=2_000,
    p5_texts=2_000,
    # Light pages (about 10 KB) keep the 20k-article cycle to minutes; `--p6-pages corpus`
    # runs it on the real pages (about 15 minutes more on 2 cores).
    p6_small=Plan(hosts=258, items_per_feed=4, slow_hosts=4, failing_hosts=4, pages="light",
                  block=63),
    p6_large=Plan(hosts=258, items_per_feed=80, slow_hosts=4, failing_hosts=4, pages="light",
                  block=64),
    p9_pages=None,
    # The size: 1M stored (seeded in about 3-4.5 minutes).
    p7_archive=1_000_000,
    # 400 new articles per cycle: enough that the per-article time is the cycle's, not its
    # start-up's.
    p7=Plan(hosts=40, items_per_feed=10, slow_hosts=0, failing_hosts=0, block=65),
    # Schedules at 1/15: ingest every 60 s, alerts and poll interval 20 s; 3 periods of
    # publishing, then until the last alert is in: about 4-5 minutes.
    p8=bench_latency.Size(scale=1 / 15, articles=30, feeds=6, hosts=3, periods=3),
)
SMOKE = Sizes(
    reps=1,
    p1_reps=1,
    p1=Plan(hosts=8, items_per_feed=4, slow_hosts=1, failing_hosts=2, slow_latency_s=0.3,
            block=61),
    p2=Plan(hosts=5, feeds_per_host=4, items_per_feed=1, pages="light", slow_hosts=0,
            failing_hosts=0, block=62),
    p3_small=200,
    p3_large=2_000,
    p3_queries=20,
    p4_rows=40,
    p5_texts=40,
    p6_small=Plan(hosts=6, items_per_feed=3, slow_hosts=0, failing_hosts=1, block=63),
    p6_large=Plan(hosts=6, items_per_feed=12, slow_hosts=0, failing_hosts=1, block=64),
    p9_pages=4,
    p7_archive=2_000,
    p7=Plan(hosts=6, items_per_feed=4, slow_hosts=0, failing_hosts=0, pages="light",
            block=65),
    # 1/30: ingest every 30 s, comfortably longer than a run (10-25 s here: a run that
    # overruns its period starts the next back to back and the model no longer holds);
    # half a period of publishing.
    p8=bench_latency.Size(scale=1 / 30, articles=4, feeds=2, hosts=2, periods=0.5),
    settings={"retry_backoff_s": 0.05},  # failing hosts cost seconds of backoff otherwise
)


@dataclass(slots=True, kw_only=True)
class Context:
    dbs: Databases
    sizes: Sizes
    workers: int
    log: Callable[[str], None]

    def plan(self, plan: Plan) -> Plan:
        return replace(plan, epoch=int(time.time()))


def _sources(net: Internet) -> list[list[str]]:
    return [[source.name, source.url] for source in net.sources()]


def _cycle(ctx: Context, net: Internet, db_url: str, **extra: Any) -> dict[str, Any]:
    net.reset()
    result = run_child({"mode": "cycle", "db_url": db_url, "sources": _sources(net),
                        "workers": ctx.workers, "settings": ctx.sizes.settings, **extra})
    result["served"] = net.stats()
    return result


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    keep = ("seconds", "summary", "served", "cpu", "tree_peak_rss_mb", "tree_peak_pss_mb",
            "main_maxrss_mb", "pages", "statuses", "errors")
    return {k: (round(v, 3) if isinstance(v, float) else v)
            for k, v in result.items() if k in keep}


# -- P1 ---------------------------------------------------------------------------------------

def p1_full_cycle(ctx: Context) -> dict[str, Any]:
    """A whole cycle over thousands of new articles vs trafilatura alone on the same pages."""
    plan = ctx.plan(ctx.sizes.p1)
    base_runs, cycle_runs = [], []
    with Internet(plan) as net:
        for rep in range(ctx.sizes.p1_reps):
            ctx.log(f"P1 rep {rep + 1}: bare extraction of {len(plan.good_pages())} pages")
            base_runs.append(run_child({"mode": "bare-extract", "plan": asdict(plan),
                                        "workers": ctx.workers}))
            ctx.log(f"P1 rep {rep + 1}: full cycle over {plan.feeds} feeds")
            db_url = ctx.dbs.fresh("p1")
            cycle_runs.append(_cycle(ctx, net, db_url))
            ctx.dbs.drop(db_url)
        page_source = net.page_source
    baseline = median([r["seconds"] for r in base_runs])
    measured = median([r["seconds"] for r in cycle_runs])
    ratio = measured / baseline
    cpu_ratio = median([_cpu_total(r) for r in cycle_runs]) / median(
        [_cpu_total(r) for r in base_runs])
    last = cycle_runs[-1]
    return {
        "what": f"cycle over {last['summary']['new_articles']} new articles from "
                f"{plan.hosts} hosts vs bare trafilatura, {ctx.workers} workers",
        "ratio": round(ratio, 3), "target": "<= 1.25", "met": ratio <= 1.25,
        "baseline_s": round(baseline, 2), "measured_s": round(measured, 2),
        "cpu_ratio": round(cpu_ratio, 3),
        "pages": len(plan.good_pages()), "hosts": plan.hosts, "page_source": page_source,
        "workers": ctx.workers,
        "baseline_runs": [_brief(r) for r in base_runs],
        "measured_runs": [_brief(r) for r in cycle_runs],
    }


def _cpu_total(run: dict[str, Any]) -> float:
    """CPU seconds of the run's processes and its database backends (not the server's):
    unlike wall time, barely moved by other work on the machine."""
    return sum(run["cpu"].values())


# -- P2 ---------------------------------------------------------------------------------------

def p2_repoll(ctx: Context) -> dict[str, Any]:
    """A cycle where every feed answers 304 vs bare conditional GETs of the same URLs."""
    plan = ctx.plan(ctx.sizes.p2)
    defaults = load_settings(env={})
    base_runs, cycle_runs = [], []
    with Internet(plan) as net:
        db_url = ctx.dbs.fresh("p2")
        ctx.log(f"P2: first cycle over {plan.feeds} feeds (stores validators)")
        primed = _cycle(ctx, net, db_url)
        requests = conditional_requests(net)
        for rep in range(ctx.sizes.reps):
            ctx.log(f"P2 rep {rep + 1}: bare conditional GETs, then the re-poll cycle")
            base_runs.append(run_child({
                "mode": "conditional-gets", "requests": requests,
                "concurrency": defaults.concurrency, "per_host": defaults.per_host_concurrency,
            }))
            cycle_runs.append(_cycle(ctx, net, db_url))
        ctx.dbs.drop(db_url)
    baseline = median([r["seconds"] for r in base_runs])
    measured = median([r["seconds"] for r in cycle_runs])
    ratio = measured / baseline
    article_fetches = sum(r["served"]["page"] for r in cycle_runs)
    not_modified = [r["served"]["feed_not_modified"] for r in cycle_runs]
    return {
        "what": f"re-poll of {plan.feeds} unchanged feeds vs bare conditional GETs",
        "ratio": round(ratio, 3), "target": "<= 1.2 and 0 article fetches",
        "met": ratio <= 1.2 and article_fetches == 0 and min(not_modified) == plan.feeds,
        "baseline_s": round(baseline, 3), "measured_s": round(measured, 3),
        "article_fetches": article_fetches, "feeds_not_modified": not_modified,
        "priming_run": _brief(primed),
        "baseline_runs": [_brief(r) for r in base_runs],
        "measured_runs": [_brief(r) for r in cycle_runs],
    }


# -- P3 ---------------------------------------------------------------------------------------

def p3_near_dup(ctx: Context) -> dict[str, Any]:
    """The store's own lookup benchmark (bench/bench_near_dup.py): `find_near_duplicate` on
    synthetic archives seeded with the false-candidate rate of real articles."""
    from bench import bench_near_dup

    small, large = ctx.sizes.p3_small, ctx.sizes.p3_large
    result = bench_near_dup.measure((small, large), ctx.sizes.p3_queries, url=ctx.dbs.admin_url,
                                    repeats=max(ctx.sizes.reps, 3), log=ctx.log)
    at_small, at_large = result["sizes"][small], result["sizes"][large]
    ratio = result["ratio"]
    return {
        "what": f"near-dup lookup, {large:,} vs {small:,} stored, huge pages "
                f"{at_large['huge_pages']}",
        "ratio": ratio, "target": "<= 1.5", "met": ratio <= 1.5,
        "baseline_s": at_small["lookup_ms"] / 1000, "measured_s": at_large["lookup_ms"] / 1000,
        "found_lookup_ratio": result["found_ratio"],
        "huge_pages": at_large["huge_pages"],  # docs/scaling.md: worth ~0.25 of this ratio
        "sizes": {str(size): figures for size, figures in result["sizes"].items()},
    }


# -- P4 ---------------------------------------------------------------------------------------

def article_texts(count: int) -> list[tuple[str, str, str]]:
    """(title, text, lang) of real articles (the corpus's expected texts), else generated;
    each made unique so no two are duplicates."""
    manifest = CORPUS_DIR / "manifest.json"
    base: list[tuple[str, str, str]] = []
    if manifest.exists():
        for item in json.loads(manifest.read_text(encoding="utf-8"))["items"]:
            if item.get("expected_text") and len(item["expected_text"]) > 500:
                lang = (item.get("html_lang") or "en")[:2].lower()
                base.append((item.get("html_title") or "", item["expected_text"], lang))
    if not base:
        for page in generated_pages(light=False, seed=1):
            base.append((page.title, page.body.decode().split("<p>", 1)[1], page.lang))
    return [(f"{title} ({i})", f"Dispatch {i}. {text}\nRef {i}.", lang)
            for i, (title, text, lang) in
            ((i, base[i % len(base)]) for i in range(count))]


def _load_rows(count: int) -> tuple[list[Any], Any]:
    """What the cycle hands its load path for each article, computed ahead (untimed)."""
    from pipeline.dedup.keys import text_keys
    from pipeline.ingest.judge import early_verdict, judge_fulltext
    from pipeline.match import load_watchlist
    from pipeline.models import Article, FeedItem, Response, Source

    watchlist = load_watchlist("venezuela")
    now = datetime.now(UTC)
    rows = []
    for i, (title, text, lang) in enumerate(article_texts(count)):
        url = f"http://127.65.0.1/news/{i}.html"
        article = Article(url=url, canonical_url=url, title=title, text=text, lang=lang,
                          site_name="Bench outlet", published_at=now)
        item = FeedItem(url=url, guid=f"p4-{i}", title=title, published_at=now)
        # as a worker judges a page that states its title and language
        full = judge_fulltext(article=article, item=item, page_date=now,
                              early_match=early_verdict(article, watchlist),
                              watchlist=watchlist, baseline_chars=None)
        page = f"<html><head><title>{title}</title></head><body><p>{text}</p></body></html>"
        response = Response(url=url, status=200, headers={"content-type": "text/html"},
                            body=page.encode())
        rows.append((article, item, full, response, text_keys(text)))
    return rows, Source(name="bench p4", url="http://127.65.0.1/feed.xml")


def _store_rows(db_url: str, rows: list[Any], source: Any) -> float:
    """The cycle's own load path on the cycle's own connection, one article (its row,
    story, bands, verdict, raw page and feed entry) per transaction. The text keys
    (fingerprint, MinHash, bands) and the verdict come ready, as the cycle's extraction
    workers compute them."""
    from pipeline.ingest.cycle import _store_with_item
    from pipeline.store import connect_for_ingest
    from pipeline.store.sources import sync_sources

    with connect_for_ingest(db_url) as conn:
        stored = sync_sources(conn, [source])[0]
        with Stopwatch() as watch:
            for article, item, full, response, keys in rows:
                _store_with_item(conn, source=stored, key=item.guid, item=item,
                                 article=article, full=full, response=response, keys=keys)
    return watch.seconds


_COPY_COLUMNS = ("url", "canonical_url", "source_id", "title", "text", "author",
                 "published_at", "lang", "site_name", "content_hash", "minhash")


def _copy_rows(db_url: str, rows: list[Any], source: Any, *, table: str = "articles") -> float:
    """A bare COPY of the same article rows."""
    from pipeline.store.sources import sync_sources

    with psycopg.connect(db_url, autocommit=True) as conn:
        source_id = sync_sources(conn, [source])[0].id
        if table != "articles":
            # The same columns without the generated search vector and with no index:
            # what the rows cost before full-text search is part of the table.
            conn.execute(f"CREATE TABLE {table} (LIKE articles INCLUDING DEFAULTS)")
        statement = f"COPY {table} ({', '.join(_COPY_COLUMNS)}) FROM STDIN"
        with Stopwatch() as watch, conn.cursor().copy(statement) as copy:
            for article, _, _, _, keys in rows:
                minhash = (None if keys.signature is None
                           else keys.signature.astype("<u4").tobytes())
                copy.write_row((article.url, article.canonical_url, source_id, article.title,
                                article.text, article.author, article.published_at,
                                article.lang, article.site_name, keys.fingerprint, minhash))
    return watch.seconds


def p4_load(ctx: Context) -> dict[str, Any]:
    """The cycle's article writes vs a raw COPY of the same rows into the same table."""
    rows, source = _load_rows(ctx.sizes.p4_rows)
    base_runs, load_runs, plain_runs = [], [], []
    for rep in range(max(ctx.sizes.reps, 3)):
        ctx.log(f"P4 rep {rep + 1}: COPY, then the cycle's load path, {len(rows)} articles")
        loads = (
            (base_runs, lambda url: _copy_rows(url, rows, source)),
            (load_runs, lambda url: _store_rows(url, rows, source)),
            (plain_runs, lambda url: _copy_rows(url, rows, source, table="bench_plain")),
        )
        for runs, load in loads:
            db_url = ctx.dbs.fresh("p4")
            try:
                runs.append(load(db_url))
            finally:
                ctx.dbs.drop(db_url)
    baseline, measured, plain = median(base_runs), median(load_runs), median(plain_runs)
    ratio = baseline / measured  # throughput ratio: rows/s loaded over rows/s copied
    return {
        "what": f"cycle's load of {len(rows)} articles vs raw COPY of the same rows",
        "ratio": round(ratio, 3), "target": ">= 0.7", "met": ratio >= 0.7,
        "baseline_s": round(baseline, 3), "measured_s": round(measured, 3),
        "baseline_rows_per_s": round(len(rows) / baseline, 1),
        "measured_rows_per_s": round(len(rows) / measured, 1),
        "copy_without_search_index_rows_per_s": round(len(rows) / plain, 1),
        "baseline_runs_s": [round(s, 3) for s in base_runs],
        "measured_runs_s": [round(s, 3) for s in load_runs],
    }


# -- P5 ---------------------------------------------------------------------------------------

def p5_matcher(ctx: Context) -> dict[str, Any]:
    """The matcher's own benchmark (bench/bench_matcher.py): `match_article` with the language
    known, as the cycle calls it, vs one bare word-scan pass over the same texts."""
    from bench import bench_matcher

    texts = article_texts(ctx.sizes.p5_texts)
    result = bench_matcher.measure(texts, repeat=max(ctx.sizes.reps, 3))
    ratio = result["ratio"]
    return {
        "what": f"matcher on {len(texts)} articles vs a bare single-pass scan",
        "target": ">= 0.5", "met": ratio >= 0.5,
        "baseline_s": round(result["megabytes"] / result["baseline_mb_s"], 4),
        "measured_s": round(result["megabytes"] / result["matcher_mb_s"], 4),
        **result,
    }


# -- P6 ---------------------------------------------------------------------------------------

def p6_memory(ctx: Context) -> dict[str, Any]:
    """Peak memory of a whole cycle (its process tree) at a small and a large size."""
    runs = {}
    for label, plan in (("small", ctx.sizes.p6_small), ("large", ctx.sizes.p6_large)):
        plan = ctx.plan(plan)
        ctx.log(f"P6: cycle over {len(plan.good_pages())} pages ({label})")
        with Internet(plan) as net:
            db_url = ctx.dbs.fresh("p6")
            runs[label] = _cycle(ctx, net, db_url)
            ctx.dbs.drop(db_url)
    small, large = runs["small"], runs["large"]
    ratio = large["tree_peak_rss_mb"] / small["tree_peak_rss_mb"]
    return {
        "what": f"peak RSS of a cycle (with its workers) at "
                f"{large['summary']['new_articles']} vs {small['summary']['new_articles']} "
                "new articles",
        "pages": ctx.sizes.p6_large.pages,
        "ratio": round(ratio, 3), "target": "<= 1.2", "met": ratio <= 1.2,
        "baseline_mb": small["tree_peak_rss_mb"], "measured_mb": large["tree_peak_rss_mb"],
        "baseline_pss_mb": small["tree_peak_pss_mb"], "measured_pss_mb": large["tree_peak_pss_mb"],
        "baseline_main_mb": small["main_maxrss_mb"], "measured_main_mb": large["main_maxrss_mb"],
        "baseline_s": round(small["seconds"], 2), "measured_s": round(large["seconds"], 2),
        "runs": {label: _brief(run) for label, run in runs.items()},
    }


# -- P7 ---------------------------------------------------------------------------------------

def p7_archive(ctx: Context) -> dict[str, Any]:
    """The same cycle over the same new articles into an empty store and into one holding
    an archive (bench/bench_archive.py), alternating; cost per new article, archive over
    empty."""
    from bench.bench_archive import seed_archive
    from bench.bench_near_dup import prewarm

    empty_url, archive_url = ctx.dbs.fresh("p7_empty"), ctx.dbs.fresh("p7_archive")
    try:
        with psycopg.connect(archive_url, autocommit=True) as conn:
            seeded = seed_archive(conn, ctx.sizes.p7_archive, article_texts(2_000),
                                  log=ctx.log)
            # as a running server holds them (see bench_near_dup.prewarm)
            seeded["prewarmed"] = prewarm(conn)
        ctx.log(f"P7: archive seeded in {seeded['seed_s']:.0f} s")
        stores = {"empty": empty_url, "archive": archive_url}
        runs: dict[str, list[dict[str, Any]]] = {"empty": [], "archive": []}
        # Round 0 warms both stores (caches, the sources' rows) and is not counted. Every
        # round has its own plan seed, so its articles are new to both stores.
        for rep in range(ctx.sizes.reps + 1):
            plan = replace(ctx.plan(ctx.sizes.p7), seed=100 + rep)
            order = ("empty", "archive") if rep % 2 else ("archive", "empty")
            with Internet(plan) as net:
                for store in order:
                    ctx.log(f"P7 round {rep}: cycle over {len(plan.good_pages())} pages, "
                            f"{store} store")
                    result = _cycle(ctx, net, stores[store])
                    if rep:
                        runs[store].append(result)
    finally:
        ctx.dbs.drop(archive_url)
        ctx.dbs.drop(empty_url)

    def per_article(run: dict[str, Any], value: float) -> float:
        return value / max(run["summary"]["new_articles"], 1)

    base = median([per_article(r, r["seconds"]) for r in runs["empty"]])
    measured = median([per_article(r, r["seconds"]) for r in runs["archive"]])
    cpu_ratio = (median([per_article(r, _cpu_total(r)) for r in runs["archive"]])
                 / median([per_article(r, _cpu_total(r)) for r in runs["empty"]]))
    backend_ratio = (
        median([per_article(r, r["cpu"]["postgres_backends_cpu_s"]) for r in runs["archive"]])
        / max(median([per_article(r, r["cpu"]["postgres_backends_cpu_s"])
                      for r in runs["empty"]]), 1e-9))
    ratio = measured / base
    return {
        "what": f"cycle per new article, {ctx.sizes.p7_archive:,} stored vs empty store",
        "ratio": round(ratio, 3), "target": "<= 1.2", "met": ratio <= 1.2,
        "baseline_s": round(base, 5), "measured_s": round(measured, 5),
        "cpu_ratio": round(cpu_ratio, 3), "postgres_cpu_ratio": round(backend_ratio, 3),
        "new_articles": [r["summary"]["new_articles"] for r in runs["archive"]],
        "archive": seeded,
        "baseline_runs": [_brief(r) for r in runs["empty"]],
        "measured_runs": [_brief(r) for r in runs["archive"]],
    }
# -- P8 ---------------------------------------------------------------------------------------

def p8_latency(ctx: Context) -> dict[str, Any]:
    """Publish-to-inbox latency under the shipped schedules against its bound
    (bench/bench_latency.py): a compressed real run of the DAGs' tasks, rescaled."""
    db_url = ctx.dbs.fresh("p8")
    try:
        return bench_latency.measure(ctx.sizes.p8, db_url=db_url, log=ctx.log)
    finally:
        ctx.dbs.drop(db_url)


# -- P9 ---------------------------------------------------------------------------------------

def p9_extract_cpu(ctx: Context) -> dict[str, Any]:
    """The page stage's CPU per page against bare trafilatura (bench/bench_extract.py), on
    every shared corpus; the worst corpus is the figure."""
    from bench import bench_extract

    result = bench_extract.measure_corpora(bench_extract.corpora(per_corpus=ctx.sizes.p9_pages),
                                           repeat=max(ctx.sizes.reps, 3))
    ratio = result["ratio"]
    return {
        "what": f"extraction CPU per page vs bare trafilatura.extract ({result['worst_corpus']})",
        "target": f"<= {bench_extract.TARGET}", "met": ratio <= bench_extract.TARGET,
        **result,
    }


FIGURES: dict[str, Callable[[Context], dict[str, Any]]] = {
    "P1": p1_full_cycle, "P2": p2_repoll, "P3": p3_near_dup, "P4": p4_load,
    "P5": p5_matcher, "P6": p6_memory, "P7": p7_archive, "P8": p8_latency,
    "P9": p9_extract_cpu,
}


def versions(dbs: Databases) -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": sys.version.split()[0], "postgresql": dbs.server_version,
           "database": "embedded" if dbs.embedded else "NEWSMON_DATABASE_URL"}
    for package in ("trafilatura", "lxml", "httpx", "feedparser", "psycopg", "datasketch",
                    "numpy"):
        try:
            out[package] = version(package)
        except Exception:  # noqa: BLE001 - a missing package is reported, not fatal
            out[package] = "absent"
    return out


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}


__all__ = ["FIGURES", "FULL", "SMOKE", "Context", "Sizes", "machine", "versions"]
