"""Event commands: `newsmon cluster` and `newsmon eval-events`.

Thin: read JSONL, run `pipeline.research.events` in a scratch database, print.
`pipeline.cli.main` mounts them.
"""

from __future__ import annotations

import json
from typing import IO

import click
import psycopg

from pipeline.cli.database import console, pipeline_url
from pipeline.cli.output import printable
from pipeline.config import Settings


def _cluster(settings: Settings, source: IO[str], watchlist: str | None,
             split: str | None = None) -> list:
    """Placed items of the readable lines (a bad line is reported on stderr and skipped)."""
    from pipeline.research.events import BadItem, cluster_items, read_items, scratch_database

    lines = source
    if split is not None:
        lines = [line for line in source if _split_of(line) == split]
    items = []
    for item in read_items(lines):
        if isinstance(item, BadItem):
            console.print(f"[yellow]cluster: {printable(str(item))}; skipped[/yellow]")
        else:
            items.append(item)
    admin_url = pipeline_url(settings, migrate=False, admin=True)
    try:
        with scratch_database(admin_url) as url:
            return cluster_items(url, items, watchlist=watchlist or settings.watchlist)
    except psycopg.Error as exc:  # e.g. a configured login that may not create databases
        raise click.ClickException(
            f"cluster: cannot use a scratch database on the configured server: "
            f"{str(exc).strip()}") from exc


def _split_of(line: str) -> object:
    try:
        return json.loads(line).get("split")
    except (ValueError, AttributeError):
        return None


@click.command("cluster")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--watchlist", help="Watchlist name or path (default: NEWSMON_WATCHLIST).")
@click.pass_obj
def cluster_command(settings: Settings, source, watchlist: str | None) -> None:
    """Group JSONL articles into stories and events; print {"id","story","event"} per line.

    Lines are {"id","title","text","lang"?,"outlet"?,"url"?,"published_at"}; they go through
    the cycle's story and event assignment in publication order, in a scratch database
    (created on the configured server, dropped afterwards). Equal labels: same group.
    """
    for placed in _cluster(settings, source, watchlist):
        line = {"id": placed.item.id, "story": placed.story, "event": placed.event}
        if placed.error:
            line["error"] = placed.error
        click.echo(json.dumps(line, ensure_ascii=False))


@click.command("eval-events")
@click.argument("dataset", type=click.File("r", encoding="utf-8"))
@click.option("--watchlist", help="Watchlist name or path (default: NEWSMON_WATCHLIST).")
@click.option("--split", help='Only the lines whose "split" is this (e.g. tune, check).')
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.pass_obj
def eval_events_command(settings: Settings, dataset, watchlist: str | None, split: str | None,
                        as_json: bool) -> None:
    """B-cubed precision, recall and F1 of `cluster` against gold "event" labels, overall
    and over pairs of articles in different languages."""
    from pipeline.research.events import bcubed

    placed = [p for p in _cluster(settings, dataset, watchlist, split) if p.item.gold is not None]
    if not placed:
        raise click.ClickException('eval-events: no line with an "event" label')
    gold = [p.item.gold for p in placed]
    # An item that could not be stored is a group of its own.
    found = [p.event if p.event is not None else f"unplaced:{i}" for i, p in enumerate(placed)]
    langs = [p.item.lang for p in placed]
    overall = bcubed(gold, found, langs)
    cross = bcubed(gold, found, langs, cross_language=True)
    report = {
        "articles": len(placed), "gold_events": len(set(gold)), "found_events": len(set(found)),
        "errors": sum(1 for p in placed if p.error),
        "overall": _scores(overall), "cross_language": _scores(cross),
    }
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(f"articles {report['articles']}  gold events {report['gold_events']}  "
               f"found events {report['found_events']}  errors {report['errors']}")
    for name, scores in (("overall", overall), ("cross-language", cross)):
        click.echo(f"{name:<15} B-cubed precision {scores.precision:.3f}  recall "
                   f"{scores.recall:.3f}  F1 {scores.f1:.3f}  ({scores.items} articles)")


def _scores(scores) -> dict[str, float | int]:
    return {"precision": round(scores.precision, 4), "recall": round(scores.recall, 4),
            "f1": round(scores.f1, 4), "articles": scores.items}
