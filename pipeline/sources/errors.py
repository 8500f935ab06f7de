"""Why a source gave no items, grouped by what the poller does next."""

from __future__ import annotations

from pipeline.errors import NewsmonError


class FeedParseError(NewsmonError, ValueError):
    """Nothing usable in the body (not a feed, or broken beyond recovery): a failed poll."""

    stage = "parse"


class SourceSkipped(NewsmonError):
    """The source cannot be polled as configured (e.g. no API key): recorded, not a failure."""

    stage = "poll"
