"""Why a source gave no items, grouped by what the poller does next."""

from __future__ import annotations


class FeedParseError(ValueError):
    """Nothing usable in the body (not a feed, or broken beyond recovery): a failed poll."""


class SourceSkipped(Exception):
    """The source cannot be polled as configured (e.g. no API key): recorded, not a failure."""
