"""Why a source gave no items, grouped by what the poller does next."""

from __future__ import annotations

from pipeline.errors import NewsmonError


class FeedParseError(NewsmonError, ValueError):
    """Nothing usable in the body (not a feed, or broken beyond recovery): a failed poll."""

    stage = "parse"


class SourceSkipped(NewsmonError):
    """The source cannot be polled as configured (e.g. no API key): recorded, not a failure."""

    stage = "poll"


# The two below are a service's own answer about the request (its words quoted in the
# message, which names the service). Both may be raised in a parse worker and cross a pipe:
# the attributes set here travel in the instance's __dict__, which pickling keeps.

class SourceMisconfigured(NewsmonError):
    """The service rejected the query, key or parameters: asking again the same way cannot
    work. The source waits for a human (or a long interval), not for a backoff."""

    stage = "poll"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status it came with (GDELT: often 200)


class SourceRateLimited(NewsmonError):
    """The service asks us to slow down: the next poll waits `retry_after_s` (None: the
    service did not say), and the wait is no failure of the source."""

    stage = "poll"
    retryable = True

    def __init__(self, message: str, *, retry_after_s: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.status = status
