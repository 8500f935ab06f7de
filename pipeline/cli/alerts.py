"""`newsmon subscribers|alerts|serve`: thin commands over `pipeline.alerts` and `pipeline.alerts.web`.

Mounted by `pipeline.cli.main` with `main.add_command(...)`; each command gets the
`Settings` object from the group and resolves the database when it runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from pipeline.cli.database import pipeline_url, require_current
from pipeline.cli.output import printable
from pipeline.config import Settings, check_link_settings


def _db(settings: Settings, *, migrate: bool = True) -> str:

    return pipeline_url(settings, migrate=migrate)


def _connect(settings: Settings):
    from pipeline.store import connect

    return connect(_db(settings), autocommit=True)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def _require_link_settings(settings: Settings) -> None:
    """Stop before any work if links would be forgeable (weak key) or plain http."""
    try:
        check_link_settings(settings)
    except ValueError as exc:
        raise _fail(exc) from exc


_hour = click.IntRange(0, 23)


@click.group("subscribers")
def subscribers() -> None:
    """People who receive alerts: add, list, update, remove, import."""


@subscribers.command("add")
@click.argument("email")
@click.option("--watchlist", "watchlists", multiple=True,
              help="Watchlist to follow (repeatable; default: NEWSMON_WATCHLIST).")
@click.option("--mode", type=click.Choice(["immediate", "daily"]), default="immediate",
              show_default=True, help="One email per story, or one digest a day.")
@click.option("--name", help="Display name.")
@click.option("--digest-hour", type=_hour, default=7, show_default=True,
              help="Local hour of the daily digest.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--min-score", type=float, default=0.0, show_default=True,
              help="Only matches scoring at least this.")
@click.option("--language", "languages", multiple=True,
              help="Only articles in this language (repeatable; default: all).")
@click.pass_obj
def add_command(settings: Settings, email: str, watchlists: tuple[str, ...], mode: str,
                name: str | None, digest_hour: int, timezone: str, min_score: float,
                languages: tuple[str, ...]) -> None:
    """Subscribe EMAIL."""
    from pipeline.alerts.subscribers import SubscriberError, add_subscriber

    try:
        with _connect(settings) as conn:
            sub = add_subscriber(conn, email=email,
                                 watchlists=list(watchlists) or [settings.watchlist], mode=mode,
                                 name=name, digest_hour=digest_hour, timezone=timezone,
                                 min_score=min_score, languages=list(languages))
    except SubscriberError as exc:
        raise _fail(exc) from exc
    click.echo(f"added {sub.email} (id {sub.id}): {', '.join(sub.watchlists)}, {sub.mode}")


@subscribers.command("update")
@click.argument("email")
@click.option("--watchlist", "watchlists", multiple=True,
              help="Replace the watchlists followed (repeatable).")
@click.option("--mode", type=click.Choice(["immediate", "daily"]))
@click.option("--name")
@click.option("--digest-hour", type=_hour)
@click.option("--timezone")
@click.option("--min-score", type=float)
@click.option("--language", "languages", multiple=True,
              help="Replace the languages wanted (repeatable).")
@click.option("--all-languages", is_flag=True, help="Clear the language preference.")
@click.option("--active/--inactive", default=None, help="Resume or stop all email.")
@click.pass_obj
def update_command(settings: Settings, email: str, watchlists: tuple[str, ...],
                   mode: str | None, name: str | None, digest_hour: int | None,
                   timezone: str | None, min_score: float | None, languages: tuple[str, ...],
                   all_languages: bool, active: bool | None) -> None:
    """Change EMAIL's subscription; options not given stay as they are."""
    from pipeline.alerts.subscribers import SubscriberError, update_subscriber

    try:
        with _connect(settings) as conn:
            sub = update_subscriber(
                conn, email=email, watchlists=list(watchlists) or None, mode=mode, name=name,
                digest_hour=digest_hour, timezone=timezone, min_score=min_score,
                languages=[] if all_languages else (list(languages) or None), active=active)
    except SubscriberError as exc:
        raise _fail(exc) from exc
    state = "active" if sub.active else "inactive"
    click.echo(f"updated {sub.email}: {', '.join(sub.watchlists)}, {sub.mode}, {state}")


@subscribers.command("remove")
@click.argument("email")
@click.pass_obj
def remove_command(settings: Settings, email: str) -> None:
    """Delete EMAIL and everything about them (use `update --inactive` to keep a record)."""
    from pipeline.alerts.subscribers import remove_subscriber

    with _connect(settings) as conn:
        if not remove_subscriber(conn, email=email):
            raise click.ClickException(f"subscribers: no subscriber {email}")
    click.echo(f"removed {email}")


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--active-only", is_flag=True)
@click.pass_obj
def list_command(settings: Settings, as_json: bool, active_only: bool) -> None:
    """List subscribers."""
    from pipeline.alerts.subscribers import list_subscribers

    with _connect(settings) as conn:
        subs = list_subscribers(conn, active_only=active_only)
    for sub in subs:
        if as_json:
            click.echo(json.dumps({
                "id": sub.id, "email": sub.email, "name": sub.name,
                "watchlists": list(sub.watchlists), "mode": sub.mode,
                "digest_hour": sub.digest_hour, "timezone": sub.timezone,
                "min_score": sub.min_score, "languages": list(sub.languages),
                "active": sub.active, "created_at": sub.created_at.isoformat(),
            }, ensure_ascii=False))
        else:
            langs = ",".join(sub.languages) or "all"
            when = f"{sub.digest_hour:02d}:00 {sub.timezone}" if sub.mode == "daily" else "-"
            # Tab-separated: a tab or newline in a name would shift the columns.
            click.echo("\t".join(printable(field) for field in [
                str(sub.id), sub.email, sub.name or "", ",".join(sub.watchlists), sub.mode,
                when, f"{sub.min_score:g}", langs, "active" if sub.active else "inactive"]))


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def import_command(settings: Settings, csv_file: Path) -> None:
    """Add or update subscribers from CSV_FILE; bad rows are reported and skipped.

    Header row with `email` and any of: name, watchlists, mode, digest_hour,
    timezone, min_score, languages (lists separated by `;`).
    """
    from pipeline.alerts.subscribers import import_subscribers_csv

    with _connect(settings) as conn:
        report = import_subscribers_csv(conn, csv_file, default_watchlist=settings.watchlist)
    for error in report.errors:
        click.echo(printable(error), err=True)
    click.echo(f"added {report.added}, updated {report.updated}, "
               f"skipped {len(report.errors)} bad rows")


@click.group("alerts")
def alerts() -> None:
    """Send queued alerts and daily digests."""


def _print_report(report, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    else:
        click.echo(", ".join(f"{k} {v}" for k, v in report.as_dict().items() if k != "outage"))
    for error in report.errors[:20]:
        click.echo(printable(error), err=True)
    if report.outage:
        click.echo(printable(f"stopped early, everything else stays queued: {report.outage}"),
                   err=True)


@alerts.command("send")
@click.option("--limit", type=click.IntRange(min=1), default=500, show_default=True,
              help="Send at most this many alerts in this pass.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def send_command(settings: Settings, limit: int, as_json: bool) -> None:
    """Send due immediate alerts (safe to run often, and in parallel)."""
    from pipeline.alerts.outbox import send_pending

    _require_link_settings(settings)
    _print_report(send_pending(_db(settings), settings, limit=limit), as_json)


@alerts.command("digest")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def digest_command(settings: Settings, as_json: bool) -> None:
    """Build the daily digests due now (each subscriber's local hour) and send them."""
    from pipeline.alerts.digest import send_digests

    _require_link_settings(settings)
    _print_report(send_digests(_db(settings), settings), as_json)


@alerts.command("check")
@click.pass_obj
def check_command(settings: Settings) -> None:
    """Check the secret key and public URL the links in emails need; fail with the reason."""
    _require_link_settings(settings)
    click.echo("ok: secret key and public URL are fit for email links")


@alerts.command("status")
@click.pass_obj
def status_command(settings: Settings) -> None:
    """Count alerts and digests by status; list the latest failures."""
    from pipeline.alerts.outbox import delivery_status

    with _connect(settings) as conn:
        counts, failed = delivery_status(conn)
    for table, by_status in counts.items():
        click.echo(f"{table}: " + (", ".join(f"{s} {n}" for s, n in by_status) or "none"))
    for kind, row_id, email, attempts, error in failed:
        click.echo(printable(f"failed {kind} {row_id} to {email} after {attempts} attempts: "
                             f"{error}"))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8025, show_default=True)
@click.pass_obj
def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the unsubscribe and preferences pages (links in emails use NEWSMON_PUBLIC_URL)."""
    from pipeline.alerts.web import serve as run_server

    _require_link_settings(settings)
    try:
        # Never migrates: in production it runs as the web login, which may only touch the
        # subscriber tables (docker-compose.yml); the pipeline's own commands migrate.
        url = _db(settings, migrate=False)
        require_current(url)
        run_server(settings, db_url=url, host=host, port=port)
    except OSError as exc:
        click.echo(f"serve: {exc}", err=True)
        sys.exit(2)
