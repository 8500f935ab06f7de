"""Emails from templates: views of events in, `EmailMessage` (text + HTML) out.

Everything that came from a feed or a page (titles, outlet names, text,
links) is untrusted: text loses every tag through nh3 with an empty allowlist
and every control character, links survive only as http(s), and the HTML
templates autoescape what remains. Header values go through `headers.clean_header`
too, and no message leaves `_message` unless its bytes re-parse to exactly the
headers and parts it set (see `headers`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from babel import Locale

from pipeline.alerts.headers import (
    MAX_SUBJECT,
    check_message,
    clean_header,
    header_address,
    subject_line,
)
from pipeline.alerts.smtp import sender_address
from pipeline.alerts.tokens import preferences_url, unsubscribe_url
from pipeline.config import Settings
from pipeline.text import clean_text, strip_controls

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
MAX_LEAD = 420  # characters: two or three sentences
MAX_LEAD_SENTENCES = 3
MAX_WHY = 4  # entities named under "why"
MIN_MORE_OUTLETS = 2  # outlets doubling is news when at least this many joined
_LOCALE = Locale("en")  # the emails are in English
_SMALL_WORDS = {"de", "del", "la", "las", "los", "el", "y", "of", "the", "and", "on", "in"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Piece:
    """One outlet's coverage of an event: its name and a link to its (first) piece."""

    outlet: str
    url: str | None
    lang: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EventView:
    """One event as an email shows it; every shown field already cleaned.

    `outlet_keys` and `language_keys` are the event's outlets and languages as stored
    (stories.outlets, articles.lang): what a sent email records it showed, and what an
    update compares with.
    """

    title: str  # the headline, shown once
    url: str | None  # the headline's article
    published: str  # when the event was first reported, in the subscriber's time zone
    lead: str = ""  # two or three sentences of the headline's article, without the headline
    why: tuple[str, ...] = ()  # the watchlist entities it matched, display names
    pieces: tuple[Piece, ...] = ()  # one per outlet, first seen first
    outlet_keys: frozenset[str] = frozenset()
    language_keys: frozenset[str] = frozenset()
    catch_up: bool = False
    entity: str | None = None  # the main entity's id (digest grouping)

    @property
    def outlets(self) -> tuple[str, ...]:
        return tuple(p.outlet for p in self.pieces)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(language_name(code) for code in self.language_keys))

    @property
    def coverage(self) -> int:
        return max(len(self.pieces), len(self.outlet_keys))


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertItem:
    """One event in an immediate alert: news (first) or what changed since the last email."""

    event: EventView
    watchlist: str
    change: str | None = None  # set for an update: what is new, in a phrase


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityGroup:
    name: str
    events: tuple[EventView, ...]

    @property
    def outlets(self) -> int:
        return len(frozenset().union(*(e.outlet_keys or frozenset(e.outlets)
                                       for e in self.events)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    id: int
    email: str
    name: str | None
    timezone: str
    token_version: int = 0  # signed into the links (pipeline.alerts.tokens)


# --- cleaning untrusted values -------------------------------------------------------------

def safe_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) link, else None (javascript:, data:, ...)."""
    if not url:
        return None
    url = url.strip()
    if strip_controls(url) != url or " " in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    return url


_SENTENCE = re.compile(r"(?<=[.!?…])[\"'”’»)]*\s+(?=[\"'“‘«¿¡(]*[A-ZÀ-ÖØ-Þ0-9])")
_FOLD = re.compile(r"\W+")


def _folded(text: str) -> str:
    return _FOLD.sub(" ", text.casefold()).strip()


def without_title(text: str, title: str) -> str:
    """`text` without a leading repetition of `title` (extracted text often starts with it)."""
    text = text.strip()
    if not title:
        return text
    want = _folded(title)
    # Walk the text word by word until its folded prefix covers the title (or cannot).
    for m in re.finditer(r"\S+", text):
        got = _folded(text[:m.end()])
        if got == want:
            return text[m.end():].lstrip(" \t\n.:-–—|")
        if not want.startswith(got):
            break
    return text


def lead_of(text: str | None, *, title: str, sentences: int = MAX_LEAD_SENTENCES,
            limit: int = MAX_LEAD) -> str:
    """The first two or three sentences of an article's text, without its headline."""
    body = without_title(clean_text((text or "")[: limit * 4]), title)
    if not body:
        return ""
    parts = [p.strip() for p in _SENTENCE.split(body) if p.strip()]
    lead = ""
    for part in parts[:sentences]:
        joined = f"{lead} {part}".strip()
        if lead and len(joined) > limit:
            break  # two short sentences beat a third cut in half
        lead = joined
    return clean_text(lead, limit=limit)


def language_name(code: str | None) -> str:
    """English name of an ISO 639-1 code (es -> Spanish); the code itself if unknown."""
    if not code:
        return "unknown language"
    return _LOCALE.languages.get(code) or clean_text(code, limit=12)


def describe_change(event: EventView, *, shown_outlets: Sequence[str] | None,
                    shown_languages: Sequence[str] | None) -> str:
    """What an update says is new since the last email: first coverage in a language
    (naming its outlets), and the outlets added."""
    shown_outlets = frozenset(shown_outlets or ())
    shown_languages = frozenset(shown_languages or ())
    phrases = []
    for code in sorted(event.language_keys - shown_languages, key=language_name):
        names = list(dict.fromkeys(p.outlet for p in event.pieces if p.lang == code))
        phrase = f"first {language_name(code)} coverage"
        phrases.append(f"{phrase}: {', '.join(names)}" if names else phrase)
    added = event.outlet_keys - shown_outlets
    if added and shown_outlets:
        phrases.append(f"now {len(event.outlet_keys)} outlets (was {len(shown_outlets)})")
    return "; ".join(phrases) or "more coverage"


def is_material(*, outlets: frozenset[str], languages: frozenset[str],
                shown_outlets: Sequence[str] | None, shown_languages: Sequence[str] | None) -> bool:
    """Worth an update: a language the last email did not have, or at least twice its
    outlets and two more (one outlet joining a lone first report is not yet news)."""
    shown = len(frozenset(shown_outlets or ()))
    return bool(languages - frozenset(shown_languages or ())) or \
        (len(outlets) >= 2 * shown and len(outlets) >= shown + MIN_MORE_OUTLETS)


def format_time(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return ""
    return moment.astimezone(_zone(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def entity_label(entity_id: str | None) -> str:
    """A readable name for a watchlist entity id: tren_de_aragua -> Tren de Aragua."""
    if not entity_id:
        return "Other"
    words = clean_text(entity_id.replace("_", " ").replace("-", " ")).split()
    out = []
    for i, word in enumerate(words):
        if i and word in _SMALL_WORDS:
            out.append(word)
        elif len(word) <= 2:
            out.append(word.upper())
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out) or "Other"


def group_by_entity(events: Iterable[EventView]) -> list[EntityGroup]:
    """Events under their main entity; most covered groups and events first."""
    groups: dict[str, list[EventView]] = {}
    for event in events:
        groups.setdefault(entity_label(event.entity), []).append(event)
    ordered = [
        EntityGroup(name=name, events=tuple(sorted(items, key=lambda e: (-e.coverage, e.title))))
        for name, items in groups.items()
    ]
    return sorted(ordered, key=lambda g: (g.name == "Other", -g.outlets, -len(g.events), g.name))


# --- messages ------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",),
                                            default_for_string=True, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["language_name"] = language_name
    return env


def render_template(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(**context)


def message_id(kind: str, row_id: int, created_at: datetime, settings: Settings) -> str:
    """Stable per outbox row: a resend after a crash repeats it, so clients can dedupe."""
    stamp = int(created_at.timestamp() * 1_000_000)
    return f"<newsmon.{kind}.{row_id}.{stamp}@{sender_address(settings).domain}>"


def _message(settings: Settings, *, recipient: Recipient, subject: str, text: str, html_body: str,
             msg_id: str, list_id: str, now: datetime) -> EmailMessage:
    """The email, refused (UnsafeMessage) unless its bytes carry exactly these headers and parts."""
    headers: dict[str, str | Address] = {
        "From": sender_address(settings),
        "To": header_address(recipient.email, recipient.name),
        "Subject": clean_header(subject, limit=MAX_SUBJECT),
        "Date": format_datetime(now),
        "Message-ID": clean_header(msg_id),
        "List-Id": clean_header(list_id),
        "List-Unsubscribe": clean_header(f"<{unsubscribe_url(settings, recipient)}>"),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",  # RFC 3834: no vacation replies to us
    }
    msg = EmailMessage()
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(text)
    msg.add_alternative(html_body, subtype="html")
    check_message(msg, headers=headers, text=text, html=html_body)
    return msg


def _links(settings: Settings, recipient: Recipient) -> dict[str, str]:
    return {"unsubscribe_url": unsubscribe_url(settings, recipient),
            "preferences_url": preferences_url(settings, recipient)}


def alert_subject(items: Sequence[AlertItem]) -> str:
    """`[watchlist] Headline`, `[watchlist] Update: Headline`, or the first headline and
    how many more events the email carries."""
    first = items[0]
    watchlists = ", ".join(dict.fromkeys(item.watchlist for item in items))
    more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
    label = "Update: " if first.change is not None and not more else ""
    return subject_line(f"[{watchlists}] {label}", first.event.title, more, limit=MAX_SUBJECT)


def render_alert(settings: Settings, *, recipient: Recipient, items: Sequence[AlertItem],
                 alert_id: int, created_at: datetime, now: datetime) -> EmailMessage:
    """One email for a subscriber's due alerts: each event once, news first, then updates."""
    if not items:
        raise ValueError("render_alert: no events to send")
    items = sorted(items, key=lambda i: i.change is not None)  # stable: news, then updates
    watchlists = tuple(dict.fromkeys(item.watchlist for item in items))
    context = {"items": items, "watchlists": watchlists, "recipient": recipient,
               **_links(settings, recipient)}
    domain = sender_address(settings).domain
    list_name = watchlists[0] if len(watchlists) == 1 else "all"
    return _message(
        settings, recipient=recipient,
        subject=alert_subject(items),
        text=render_template("alert.txt", **context),
        html_body=render_template("alert.html", **context),
        msg_id=message_id("alert", alert_id, created_at, settings),
        list_id=f"newsmon {list_name} alerts <{list_name}.newsmon.{domain}>",
        now=now,
    )


def render_digest(settings: Settings, *, recipient: Recipient, groups: Sequence[EntityGroup],
                  local_date: date, digest_id: int, created_at: datetime,
                  now: datetime) -> EmailMessage:
    count = sum(len(g.events) for g in groups)
    context = {"groups": groups, "local_date": local_date, "event_count": count,
               "has_catch_up": any(e.catch_up for g in groups for e in g.events),
               "recipient": recipient, **_links(settings, recipient)}
    domain = sender_address(settings).domain
    plural = "event" if count == 1 else "events"
    return _message(
        settings, recipient=recipient,
        subject=f"newsmon digest {local_date.isoformat()}: {count} {plural}",
        text=render_template("digest.txt", **context),
        html_body=render_template("digest.html", **context),
        msg_id=message_id("digest", digest_id, created_at, settings),
        list_id=f"newsmon daily digest <digest.newsmon.{domain}>",
        now=now,
    )
