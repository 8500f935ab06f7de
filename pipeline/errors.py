"""One error taxonomy: every error newsmon raises on purpose derives from `NewsmonError`.

Grouped by what the caller should do next, not by which library failed: `retryable` says
whether doing the same work again later may succeed (a timeout, a database restart) or
not (a bad configuration, a page with no text), and `stage` names where it was raised,
the word messages start with (`fetch: body exceeds 1 MB`). The Airflow fail-fast policy
reads `retryable`, so renaming a class cannot silently turn retries back on.
"""

from __future__ import annotations


class NewsmonError(Exception):
    """Base of newsmon's own errors. Subclasses set `stage` and `retryable`; an instance
    may override `retryable` (a fetch that timed out vs one answered 404)."""

    stage: str = "newsmon"
    retryable: bool = False


class ConfigurationError(NewsmonError, ValueError):
    """A setting, sources file, watchlist or secret is wrong: fix it, then run again."""

    stage = "config"


class StoreUnavailable(NewsmonError, RuntimeError):
    """No database to talk to (down, restarting, unreachable): the next run picks up."""

    stage = "db"
    retryable = True
