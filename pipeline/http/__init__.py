"""The single place newsmon talks to the network.

Limits, politeness, conditional GET, manual redirects, the SSRF guard and robots.txt all
live here; callers see `HttpClient.fetch` -> `pipeline.models.Response` or `FetchError`.
"""

from pipeline.http.client import HttpClient, parse_retry_after
from pipeline.http.errors import FetchError
from pipeline.http.guard import is_public_address

__all__ = ["FetchError", "HttpClient", "is_public_address", "parse_retry_after"]
