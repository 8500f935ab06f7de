"""Whether an extraction is the article: full, a teaser, behind a paywall, or nothing."""

from __future__ import annotations

import html
import re

import nh3

TAIL_CHARS = 300  # prompts sit at the end of what a paywalled page shows
_PAYWALL = re.compile(
    r"subscribe (?:now )?to (?:continue|keep) reading|subscribe to read|subscribers? only"
    r"|for subscribers|already (?:a subscriber|have an account)|become a (?:subscriber|member)"
    r"|(?:sign|log) in to (?:continue|read)|create a free account|free articles? (?:left|limit)"
    r"|reached your (?:free )?(?:article|story) limit|start your free trial"
    r"|suscr[íi]b[ea]te (?:para|y) (?:seguir|continuar)|exclusivo para (?:suscriptores|socios)"
    r"|ya eres (?:suscriptor|socio)|hazte (?:suscriptor|socio)|suscr[íi]bete ahora"
    r"|inicia sesi[óo]n para (?:seguir|continuar|leer)",
    re.IGNORECASE,
)
_READ_MORE = re.compile(
    r"(?:read more|continue reading|keep reading|read the (?:full|whole|rest of the) "
    r"(?:story|article)|full story|leer m[áa]s|seguir leyendo|continuar leyendo|ver m[áa]s"
    r"|lee (?:la nota|el art[íi]culo|la noticia) completa|\[(?:…|\.\.\.)\]|…|\.\.\.)"
    r"[\s»›→>.:)\]]*$",
    re.IGNORECASE,
)
SUMMARY_RATIO = 0.8  # text shorter than this share of the feed's own summary is a teaser
BASELINE_RATIO = 0.25  # ... or than this share of the source's usual article length
MIN_WORDS = 5  # fewer words than this is no text at all (a "Loading..." shell)


def classify_fulltext(*, text: str, feed_summary: str | None, baseline_chars: int | None) -> str:
    """Say whether an extraction is the article: "full", "teaser", "paywalled" or "failed".

    `baseline_chars` is the source's typical full-text length (e.g. a median of past
    "full" extractions), None while a source has no history.
    """
    text = text.strip()
    if len(text.split()) < MIN_WORDS:
        return "failed"
    tail = text[-TAIL_CHARS:]
    if _PAYWALL.search(tail):
        return "paywalled"
    if _READ_MORE.search(tail):
        return "teaser"
    summary = summary_text(feed_summary)
    if summary and len(text) < SUMMARY_RATIO * len(summary):
        return "teaser"
    if baseline_chars and len(text) < BASELINE_RATIO * baseline_chars:
        return "teaser"
    return "full"


def summary_text(summary: str | None) -> str:
    """A feed summary as plain text (feeds often send HTML)."""
    if not summary:
        return ""
    if "<" in summary:
        summary = nh3.clean(summary, tags=set())
    return " ".join(html.unescape(summary).split())
