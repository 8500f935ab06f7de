"""Emails from templates: views of stories in, `EmailMessage` (text + HTML) out.

Everything that came from a feed or a page (titles, outlet names, snippets,
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

from pipeline.alerts.headers import check_message, clean_header, header_address
from pipeline.alerts.smtp import sender_address
from pipeline.alerts.tokens import preferences_url, unsubscribe_url
from pipeline.config import Settings
from pipeline.text import clean_text, strip_controls

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
MAX_SNIPPETS = 4
MAX_SUBJECT = 140
_SMALL_WORDS = {"de", "del", "la", "las", "los", "el", "y", "of", "the", "and", "on", "in"}


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    hit: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class OutletLink:
    name: str
    url: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryView:
    """One story as an email shows it; every field already cleaned."""

    title: str
    url: str | None
    outlet: str
    published: str
    snippets: tuple[tuple[Segment, ...], ...] = ()
    terms: tuple[str, ...] = ()
    other_outlets: tuple[OutletLink, ...] = ()  # shown, with links where we have them
    outlets: tuple[str, ...] = ()  # every outlet carrying the story, this one included
    catch_up: bool = False
    entity: str | None = None

    @property
    def all_outlets(self) -> frozenset[str]:
        return frozenset((self.outlet, *self.outlets, *(o.name for o in self.other_outlets)))

    @property
    def coverage(self) -> int:
        return len(self.all_outlets)


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityGroup:
    name: str
    stories: tuple[StoryView, ...]

    @property
    def outlets(self) -> int:
        """Distinct outlets carrying any of the group's stories."""
        return len(frozenset().union(*(story.all_outlets for story in self.stories)))


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


def highlight(snippet: str, terms: Iterable[str]) -> tuple[Segment, ...]:
    """Split a snippet into plain and matched parts (case-insensitive, longest term first)."""
    words = sorted({t for t in terms if t}, key=len, reverse=True)
    if not words:
        return (Segment(snippet, False),) if snippet else ()
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    segments, pos = [], 0
    for m in pattern.finditer(snippet):
        if m.start() > pos:
            segments.append(Segment(snippet[pos:m.start()], False))
        segments.append(Segment(m.group(0), True))
        pos = m.end()
    if pos < len(snippet):
        segments.append(Segment(snippet[pos:], False))
    return tuple(segments)


def evidence_snippets(evidence: Sequence[dict[str, Any]] | None
                      ) -> tuple[tuple[tuple[Segment, ...], ...], tuple[str, ...]]:
    """Highlighted snippets (strongest evidence first, no repeats) and the matched terms."""
    items = sorted(evidence or [], key=lambda e: -float(e.get("weight") or 0))
    terms = tuple(dict.fromkeys(t for e in items if (t := clean_text(e.get("term"), limit=80))))
    snippets: list[str] = []
    for item in items:
        snippet = clean_text(item.get("snippet"), limit=300)
        if snippet and snippet not in snippets:
            snippets.append(snippet)
        if len(snippets) == MAX_SNIPPETS:
            break
    return tuple(highlight(s, terms) for s in snippets), terms


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


def group_by_entity(stories: Iterable[StoryView]) -> list[EntityGroup]:
    """Stories under their main entity; most covered groups and stories first."""
    groups: dict[str, list[StoryView]] = {}
    for story in stories:
        groups.setdefault(entity_label(story.entity), []).append(story)
    ordered = [
        EntityGroup(name=name, stories=tuple(sorted(items, key=lambda s: (-s.coverage, s.title))))
        for name, items in groups.items()
    ]
    return sorted(ordered, key=lambda g: (g.name == "Other", -g.outlets, -len(g.stories), g.name))


# --- messages ------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",),
                                            default_for_string=True, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


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


def render_alert(settings: Settings, *, recipient: Recipient, story: StoryView, watchlist: str,
                 alert_id: int, created_at: datetime, now: datetime) -> EmailMessage:
    context = {"story": story, "watchlist": watchlist, "recipient": recipient,
               **_links(settings, recipient)}
    domain = sender_address(settings).domain
    return _message(
        settings, recipient=recipient,
        subject=f"[{watchlist}] {story.title}",
        text=render_template("alert.txt", **context),
        html_body=render_template("alert.html", **context),
        msg_id=message_id("alert", alert_id, created_at, settings),
        list_id=f"newsmon {watchlist} alerts <{watchlist}.newsmon.{domain}>",
        now=now,
    )


def render_digest(settings: Settings, *, recipient: Recipient, groups: Sequence[EntityGroup],
                  local_date: date, digest_id: int, created_at: datetime,
                  now: datetime) -> EmailMessage:
    count = sum(len(g.stories) for g in groups)
    context = {"groups": groups, "local_date": local_date, "story_count": count,
               "has_catch_up": any(s.catch_up for g in groups for s in g.stories),
               "recipient": recipient, **_links(settings, recipient)}
    domain = sender_address(settings).domain
    plural = "story" if count == 1 else "stories"
    return _message(
        settings, recipient=recipient,
        subject=f"newsmon digest {local_date.isoformat()}: {count} {plural}",
        text=render_template("digest.txt", **context),
        html_body=render_template("digest.html", **context),
        msg_id=message_id("digest", digest_id, created_at, settings),
        list_id=f"newsmon daily digest <digest.newsmon.{domain}>",
        now=now,
    )
