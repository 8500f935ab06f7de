"""Relevance: does an article concern a watchlist's subject, and why.

    wl = load_watchlist("venezuela")
    verdict = match_article(wl, title=..., text=..., lang="es")
"""

from pipeline.match.evaluate import EvalReport, evaluate_file
from pipeline.match.language import detect_language
from pipeline.match.matcher import match_article
from pipeline.match.watchlist import Watchlist, WatchlistError, load_watchlist

__all__ = [
    "EvalReport", "Watchlist", "WatchlistError", "detect_language", "evaluate_file",
    "load_watchlist", "match_article",
]
