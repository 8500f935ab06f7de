"""Full-text commands: `newsmon reextract`, `newsmon prune-raw` and `newsmon eval-extract`.

Thin: parse options, call `pipeline.ingest.judge` / `pipeline.extract.evaluate`, print.
`pipeline.cli.main` mounts them.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from pipeline.cli.database import pipeline_url
from pipeline.config import Settings
from pipeline.store.raw import EXTRACTION_MODES


@click.command("reextract")
@click.option("--since", type=click.DateTime(), default=None,
              help="Only pages fetched on or after this date (UTC).")
@click.option("--mode", type=click.Choice(EXTRACTION_MODES), default=None,
              help="Only articles whose text this extraction path produced"
                   " (unrecorded: stored before it was recorded).")
@click.pass_obj
def reextract_command(settings: Settings, since: datetime | None, mode: str | None) -> None:
    """Re-run extraction and matching over the raw archive; creates no revisions."""
    from pipeline.ingest.reextract import reextract

    counts = reextract(pipeline_url(settings), settings, since=since, mode=mode)
    click.echo(json.dumps(counts))


@click.command("prune-raw")
@click.option("--keep-days", type=float, default=None,
              help="Days of raw pages to keep (default: NEWSMON_RAW_RETENTION_DAYS).")
@click.pass_obj
def prune_raw_command(settings: Settings, keep_days: float | None) -> None:
    """Delete raw pages older than the retention setting."""
    from pipeline.store import connect
    from pipeline.store.raw import prune_raw

    keep = settings.raw_retention_days if keep_days is None else keep_days
    with connect(pipeline_url(settings), autocommit=True) as conn:
        click.echo(json.dumps({"deleted": prune_raw(conn, keep_days=keep)}))


@click.command("eval-extract")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--repeat", type=int, default=1, show_default=True,
              help="Runs per side; the fastest counts.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def eval_extract_command(directory: Path, workers: int, repeat: int, as_json: bool) -> None:
    """Score newsmon's extraction against bare trafilatura on a ground-truth corpus."""
    from pipeline.extract import evaluate as extract_eval

    args = [str(directory), "--workers", str(workers), "--repeat", str(repeat)]
    sys.exit(extract_eval.main([*args, "--json"] if as_json else args))
