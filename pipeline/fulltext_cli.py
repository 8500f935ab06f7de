"""Full-text commands: `newsmon reextract`, `newsmon prune-raw` and `newsmon eval-extract`.

Thin: parse options, call `pipeline.fulltext` / `pipeline.extract_eval`, print.
`pipeline.cli` attaches them; it is imported lazily here to avoid a cycle.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from pipeline.config import Settings


@click.command("reextract")
@click.option("--since", type=click.DateTime(), default=None,
              help="Only pages fetched on or after this date (UTC).")
@click.pass_obj
def reextract_command(settings: Settings, since: datetime | None) -> None:
    """Re-run extraction and matching over the raw archive; creates no revisions."""
    from pipeline.cli import _db_url
    from pipeline.fulltext import reextract

    counts = reextract(_db_url(settings), settings, since=since)
    click.echo(json.dumps(counts))


@click.command("prune-raw")
@click.option("--keep-days", type=float, default=None,
              help="Days of raw pages to keep (default: NEWSMON_RAW_RETENTION_DAYS).")
@click.pass_obj
def prune_raw_command(settings: Settings, keep_days: float | None) -> None:
    """Delete raw pages older than the retention setting."""
    from pipeline.cli import _db_url
    from pipeline.db import connect
    from pipeline.fulltext import prune_raw

    keep = settings.raw_retention_days if keep_days is None else keep_days
    with connect(_db_url(settings), autocommit=True) as conn:
        click.echo(json.dumps({"deleted": prune_raw(conn, keep_days=keep)}))


@click.command("eval-extract")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--repeat", type=int, default=1, show_default=True,
              help="Runs per side; the fastest counts.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def eval_extract_command(directory: Path, workers: int, repeat: int, as_json: bool) -> None:
    """Score newsmon's extraction against bare trafilatura on a ground-truth corpus."""
    from pipeline import extract_eval

    args = [str(directory), "--workers", str(workers), "--repeat", str(repeat)]
    sys.exit(extract_eval.main([*args, "--json"] if as_json else args))
