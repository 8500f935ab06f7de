"""Subscribers: validated on the way in, audited when they change.

Every address goes through email-validator (syntax only: no DNS at add time),
names lose control characters so they can never break a header, and an
unsubscribe is never undone by a later import.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from email_validator import EmailNotValidError, validate_email
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from pipeline.text import MAX_NAME, strip_controls

MODES = ("immediate", "daily")
_WATCHLIST_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_LIST_SPLIT = re.compile(r"[;|,\s]+")


class SubscriberError(ValueError):
    """A subscriber value is invalid, or the subscriber does not exist."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscriber:
    id: int
    email: str
    name: str | None
    watchlists: tuple[str, ...]
    mode: str
    digest_hour: int
    timezone: str
    min_score: float
    languages: tuple[str, ...]
    active: bool
    created_at: datetime
    token_version: int  # signed into email links; bumped on unsubscribe (see sql/0012)


@dataclass(slots=True)
class ImportReport:
    added: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


_COLUMNS = ("id, email, name, watchlists, mode, digest_hour, timezone, min_score, languages, "
            "active, created_at, token_version")


def _from_row(row: dict[str, Any]) -> Subscriber:
    return Subscriber(**{**row, "watchlists": tuple(row["watchlists"]),
                         "languages": tuple(row["languages"])})


# --- validation: each returns the normalised value or raises SubscriberError ---------------

def normalise_email(email: str) -> str:
    try:
        # Syntax only; ASCII only, so every address works without SMTPUTF8.
        return validate_email(email.strip(), check_deliverability=False,
                              allow_smtputf8=False).normalized
    except EmailNotValidError as exc:
        raise SubscriberError(f"subscribers: {email!r} is not a valid address: {exc}") from None


def clean_name(name: str | None) -> str | None:
    """A name as stored: controls (CR, LF, ...) spaces, invisible characters gone, capped.
    (Headers are cleaned again when an email is written: `alerts.headers`.)"""
    if name is None:
        return None
    cleaned = " ".join(strip_controls(name).split())[:MAX_NAME]
    return cleaned or None


def _check_watchlists(names: Iterable[str]) -> list[str]:
    out = []
    for name in names:
        name = name.strip().lower()
        if not _WATCHLIST_NAME.match(name):
            raise SubscriberError(f"subscribers: {name!r} is not a watchlist name")
        if name not in out:
            out.append(name)
    if not out:
        raise SubscriberError("subscribers: at least one watchlist is needed")
    return out


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise SubscriberError(f"subscribers: mode must be immediate or daily, not {mode!r}")
    return mode


def _check_hour(hour: int) -> int:
    if not 0 <= hour <= 23:
        raise SubscriberError(f"subscribers: digest hour must be 0-23, not {hour}")
    return hour


def _check_timezone(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise SubscriberError(f"subscribers: unknown time zone {tz!r}") from None
    return tz


def _check_languages(languages: Iterable[str]) -> list[str]:
    out = []
    for lang in languages:
        lang = lang.strip().lower()
        if not _LANGUAGE.match(lang):
            raise SubscriberError(f"subscribers: {lang!r} is not a language code (e.g. en, es)")
        if lang not in out:
            out.append(lang)
    return out


def _check_score(score: float) -> float:
    if not 0 <= score < float("inf"):
        raise SubscriberError(f"subscribers: minimum score must be >= 0, not {score}")
    return float(score)


def _validated(*, watchlists: Sequence[str] | None = None, mode: str | None = None,
               name: str | None = None, digest_hour: int | None = None,
               timezone: str | None = None, min_score: float | None = None,
               languages: Sequence[str] | None = None) -> dict[str, Any]:
    """The given fields, checked and normalised; fields left as None are absent."""
    checks = {
        "watchlists": _check_watchlists, "mode": _check_mode, "name": clean_name,
        "digest_hour": _check_hour, "timezone": _check_timezone, "min_score": _check_score,
        "languages": _check_languages,
    }
    given = {"watchlists": watchlists, "mode": mode, "name": name, "digest_hour": digest_hour,
             "timezone": timezone, "min_score": min_score, "languages": languages}
    return {key: checks[key](value) for key, value in given.items() if value is not None}


# --- queries -------------------------------------------------------------------------------

def get_subscriber(conn: psycopg.Connection, *, email: str | None = None,
                   subscriber_id: int | None = None, lock: bool = False) -> Subscriber | None:
    """The subscriber, by id or address; `lock` holds the row until the transaction ends."""
    suffix = " FOR UPDATE" if lock else ""
    with conn.cursor(row_factory=dict_row) as cur:
        if subscriber_id is not None:
            cur.execute(f"SELECT {_COLUMNS} FROM subscribers WHERE id = %s{suffix}",
                        (subscriber_id,))
        else:
            cur.execute(f"SELECT {_COLUMNS} FROM subscribers WHERE lower(email) = lower(%s)"
                        f"{suffix}", (email.strip(),))
        row = cur.fetchone()
    return _from_row(row) if row else None


def list_subscribers(conn: psycopg.Connection, *, active_only: bool = False) -> list[Subscriber]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM subscribers WHERE active OR NOT %s ORDER BY id",
                    (active_only,))
        return [_from_row(row) for row in cur.fetchall()]


def _log_event(conn: psycopg.Connection, subscriber_id: int, action: str, via: str,
               detail: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO subscriber_events (subscriber_id, action, via, detail) VALUES (%s, %s, %s, %s)",
        (subscriber_id, action, via, Jsonb(detail)),
    )


def add_subscriber(conn: psycopg.Connection, *, email: str, watchlists: Sequence[str],
                   mode: str = "immediate", name: str | None = None, digest_hour: int = 7,
                   timezone: str = "UTC", min_score: float = 0.0,
                   languages: Sequence[str] = (), via: str = "cli") -> Subscriber:
    """Add a new subscriber; an address already present (in any case) is an error."""
    address = normalise_email(email)
    values = _validated(watchlists=watchlists, mode=mode, name=name, digest_hour=digest_hour,
                        timezone=timezone, min_score=min_score, languages=languages)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"""INSERT INTO subscribers (email, name, watchlists, mode, digest_hour, timezone,
                                        min_score, languages)
                VALUES (%(email)s, %(name)s, %(watchlists)s, %(mode)s, %(digest_hour)s,
                        %(timezone)s, %(min_score)s, %(languages)s)
                ON CONFLICT ((lower(email))) DO NOTHING
                RETURNING {_COLUMNS}""",
            {"email": address, "name": None, **values},
        )
        row = cur.fetchone()
        if row is None:
            raise SubscriberError(f"subscribers: {address} is already subscribed "
                                  "(use `newsmon subscribers update`)")
        _log_event(conn, row["id"], "subscribe", via, {})
    return _from_row(row)


def update_subscriber(conn: psycopg.Connection, *, email: str | None = None,
                      subscriber_id: int | None = None, watchlists: Sequence[str] | None = None,
                      mode: str | None = None, name: str | None = None,
                      digest_hour: int | None = None, timezone: str | None = None,
                      min_score: float | None = None, languages: Sequence[str] | None = None,
                      active: bool | None = None, via: str = "cli",
                      token_version: int | None = None) -> Subscriber:
    """Change the given fields (None leaves a field as it is).

    With `token_version` (a change made through an emailed link), the change happens only
    if the subscriber's links are still that version: an unsubscribe that lands first wins.
    """
    values = _validated(watchlists=watchlists, mode=mode, name=name, digest_hour=digest_hour,
                        timezone=timezone, min_score=min_score, languages=languages)
    if active is not None:
        values["active"] = active
    with conn.transaction():
        current = get_subscriber(conn, email=email, subscriber_id=subscriber_id, lock=True)
        if current is None:
            raise SubscriberError(f"subscribers: no subscriber {email or subscriber_id}")
        if token_version is not None and token_version != current.token_version:
            raise SubscriberError("subscribers: this link is no longer valid")
        changed = {k: v for k, v in values.items()
                   if _comparable(getattr(current, k)) != _comparable(v)}
        activation = changed.pop("active", None)
        if changed:
            assignments = psycopg.sql.SQL(", ").join(
                psycopg.sql.SQL("{} = {}").format(psycopg.sql.Identifier(k),
                                                  psycopg.sql.Placeholder(k))
                for k in changed
            )
            conn.execute(
                psycopg.sql.SQL("UPDATE subscribers SET {} WHERE id = {}").format(
                    assignments, psycopg.sql.Placeholder("id")),
                {**changed, "id": current.id},
            )
            _drop_pending_alerts(conn, current.id)
            _log_event(conn, current.id, "update", via, changed)
        if activation is False:
            _deactivate(conn, current.id, via=via)
        elif activation is True:
            conn.execute("UPDATE subscribers SET active = true WHERE id = %s", (current.id,))
            _log_event(conn, current.id, "subscribe", via, {"active": True})
        return get_subscriber(conn, subscriber_id=current.id)


def _comparable(value: Any) -> Any:
    return list(value) if isinstance(value, (tuple, list)) else value


def _drop_pending_alerts(conn: psycopg.Connection, subscriber_id: int) -> None:
    """Queued immediate alerts no longer wanted (mode or watchlists changed) are skipped."""
    conn.execute(
        """UPDATE alerts a SET status = 'skipped', last_error = 'subscription changed'
           FROM subscribers s
           WHERE a.subscriber_id = %s AND s.id = a.subscriber_id AND a.status = 'pending'
             AND (s.mode <> 'immediate' OR NOT a.watchlist = ANY(s.watchlists))""",
        (subscriber_id,),
    )


def _deactivate(conn: psycopg.Connection, subscriber_id: int, *, via: str) -> None:
    # Taking the row lock waits for a sender that is mailing this subscriber right
    # now (it holds a share lock), so once this returns no further email goes out.
    conn.execute("UPDATE subscribers SET active = false WHERE id = %s", (subscriber_id,))
    conn.execute("""UPDATE alerts SET status = 'skipped', last_error = 'unsubscribed'
                    WHERE subscriber_id = %s AND status = 'pending'""", (subscriber_id,))
    conn.execute("""UPDATE digests SET status = 'skipped', last_error = 'unsubscribed'
                    WHERE subscriber_id = %s AND status = 'pending'""", (subscriber_id,))
    _log_event(conn, subscriber_id, "unsubscribe", via, {})


def unsubscribe(conn: psycopg.Connection, subscriber_id: int, *, via: str,
                token_version: int | None = None) -> bool:
    """Stop all email to the subscriber; True if they were active. Idempotent.

    With `token_version` (an emailed link), only if their links are still that version.
    """
    with conn.transaction():
        row = conn.execute("SELECT active, token_version FROM subscribers WHERE id = %s "
                           "FOR UPDATE", (subscriber_id,)).fetchone()
        if row is None or not row[0] or token_version not in (None, row[1]):
            return False
        _deactivate(conn, subscriber_id, via=via)
        return True


def remove_subscriber(conn: psycopg.Connection, *, email: str) -> bool:
    """Delete the subscriber and everything about them (alerts, digests, audit)."""
    with conn.transaction():
        row = conn.execute("DELETE FROM subscribers WHERE lower(email) = lower(%s) RETURNING id",
                           (email.strip(),)).fetchone()
    return row is not None


# --- CSV import ----------------------------------------------------------------------------

def import_subscribers_csv(conn: psycopg.Connection, source: Path | str | TextIO, *,
                           default_watchlist: str, via: str = "import") -> ImportReport:
    """Load subscribers from CSV (header row; `email` required).

    Columns: email, name, watchlists, mode, digest_hour, timezone, min_score,
    languages (lists separated by `;`, `|` or spaces). A bad row is reported with
    its line number and skipped; the good ones load. Importing the same file again
    updates nothing that did not change, and never resubscribes someone who left.
    """
    text = Path(source).read_text(encoding="utf-8-sig") if isinstance(source, (str, Path)) \
        else source.read()
    reader = csv.DictReader(io.StringIO(text))
    report = ImportReport()
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "email" not in header:
        report.errors.append("subscribers: the CSV has no `email` column in its header")
        return report
    reader.fieldnames = header
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        try:
            values = _row_values(row, default_watchlist=default_watchlist)
        except (SubscriberError, ValueError) as exc:
            report.errors.append(f"line {line}: {exc}")
            continue
        key = values["email"].lower()
        if key in seen:
            report.errors.append(f"line {line}: subscribers: {values['email']} repeats line "
                                 f"{seen[key]}; skipped")
            continue
        seen[key] = line
        with conn.transaction():
            inserted = _upsert(conn, values, via=via)
        if inserted is None:
            continue
        if inserted:
            report.added += 1
        else:
            report.updated += 1
    return report


def _row_values(row: dict[str, str | None], *, default_watchlist: str) -> dict[str, Any]:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    def as_list(name: str) -> list[str]:
        return [part for part in _LIST_SPLIT.split(cell(name)) if part]

    try:
        hour = int(cell("digest_hour")) if cell("digest_hour") else 7
        score = float(cell("min_score")) if cell("min_score") else 0.0
    except ValueError as exc:
        raise SubscriberError(f"subscribers: {exc}") from None
    return {
        "email": normalise_email(cell("email")),
        **_validated(watchlists=as_list("watchlists") or [default_watchlist],
                     mode=cell("mode") or "immediate", name=cell("name") or None,
                     digest_hour=hour, timezone=cell("timezone") or "UTC",
                     min_score=score, languages=as_list("languages")),
    }


def _upsert(conn: psycopg.Connection, values: dict[str, Any], *, via: str) -> bool | None:
    """Insert or update one imported row: True added, False updated, None unchanged."""
    values = {"name": None, **values}
    row = conn.execute(
        """INSERT INTO subscribers (email, name, watchlists, mode, digest_hour, timezone,
                                    min_score, languages)
           VALUES (%(email)s, %(name)s, %(watchlists)s, %(mode)s, %(digest_hour)s, %(timezone)s,
                   %(min_score)s, %(languages)s)
           ON CONFLICT ((lower(email))) DO UPDATE SET
               name = EXCLUDED.name, watchlists = EXCLUDED.watchlists, mode = EXCLUDED.mode,
               digest_hour = EXCLUDED.digest_hour, timezone = EXCLUDED.timezone,
               min_score = EXCLUDED.min_score, languages = EXCLUDED.languages
           WHERE (subscribers.name, subscribers.watchlists, subscribers.mode,
                  subscribers.digest_hour, subscribers.timezone, subscribers.min_score,
                  subscribers.languages)
                 IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.watchlists, EXCLUDED.mode,
                                   EXCLUDED.digest_hour, EXCLUDED.timezone, EXCLUDED.min_score,
                                   EXCLUDED.languages)
           RETURNING id, (xmax = 0) AS inserted""",
        values,
    ).fetchone()
    if row is None:
        return None
    subscriber_id, inserted = row
    if not inserted:
        _drop_pending_alerts(conn, subscriber_id)
    _log_event(conn, subscriber_id, "subscribe" if inserted else "update", via,
               {} if inserted else {k: v for k, v in values.items() if k != "email"})
    return bool(inserted)
