"""Read a response body without ever holding more than the cap, compressed or not.

httpx's own decoders inflate each network chunk in one go, so a 64 KB chunk of a gzip bomb
becomes ~64 MB in memory before any cap can look at it. Here zlib's `max_length` stops
inflating one byte past what the cap still allows, so memory stays at the cap.
"""

from __future__ import annotations

import zlib

import httpx

from pipeline.http.errors import FetchError, human_size

ACCEPT_ENCODING = "gzip, deflate"  # what `Inflater` can decode; we never advertise br/zstd


class Inflater:
    """Decodes one Content-Encoding chunk by chunk, producing at most `limit` bytes per call."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}.get(encoding)
        self._zlib = None if wbits is None else zlib.decompressobj(wbits)
        self._started = False

    def decode(self, data: bytes, limit: int) -> bytes:
        if self._zlib is None:
            return data
        try:
            out = self._zlib.decompress(data, limit)
        except zlib.error:
            if self.encoding != "deflate" or self._started:
                raise
            # Some servers send raw deflate without the zlib header; browsers accept it.
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(data, limit)
        self._started = True
        return out


def inflater_for(header: str | None, *, url: str) -> Inflater:
    encoding = (header or "identity").strip().lower()
    encoding = {"x-gzip": "gzip", "": "identity"}.get(encoding, encoding)
    if encoding not in ("identity", "gzip", "deflate"):
        raise FetchError(f"unsupported Content-Encoding {header!r}", kind="decode", url=url)
    return Inflater(encoding)


async def read_capped(response: httpx.Response, *, max_bytes: int, url: str) -> bytes:
    """The decoded body, or FetchError(kind="too-large") as soon as it passes `max_bytes`."""
    inflater = inflater_for(response.headers.get("content-encoding"), url=url)
    declared = response.headers.get("content-length", "")
    if inflater.encoding == "identity" and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes, url)  # say no before reading a byte
    body = bytearray()
    try:
        async for chunk in response.aiter_raw():
            # Asking for one byte more than allowed is how we learn the cap was passed.
            body += inflater.decode(chunk, max_bytes - len(body) + 1)
            if len(body) > max_bytes:
                raise _too_large(max_bytes, url)
    except zlib.error as exc:
        raise FetchError(f"cannot decode {inflater.encoding} body: {exc}",
                         kind="decode", url=url) from exc
    return bytes(body)


async def read_start(response: httpx.Response, *, max_bytes: int, url: str) -> bytes:
    """The first `max_bytes` of the decoded body, never an error: for an error answer, whose
    words help but whose body may be anything (cut short, badly encoded, huge)."""
    try:
        inflater = inflater_for(response.headers.get("content-encoding"), url=url)
    except FetchError:
        return b""
    body = bytearray()
    try:
        async for chunk in response.aiter_raw():
            body += inflater.decode(chunk, max_bytes - len(body))
            if len(body) >= max_bytes:
                break
    except (zlib.error, httpx.HTTPError):
        pass  # what arrived before the break is still the service's words
    return bytes(body[:max_bytes])


async def drain(response: httpx.Response, *, max_bytes: int) -> None:
    """Read and drop a body we do not keep (a 304's or a redirect's), so its connection goes
    back to the pool: httpcore closes a connection whose response was not read to the end.
    Past `max_bytes` we stop; that one connection is then closed, which costs only a reconnect."""
    seen = 0
    try:
        async for chunk in response.aiter_raw():
            seen += len(chunk)
            if seen > max_bytes:
                return
    except httpx.HTTPError:
        pass  # the answer (status, headers) is already in hand; the body was never wanted


def _too_large(max_bytes: int, url: str) -> FetchError:
    return FetchError(f"body exceeds {human_size(max_bytes)}", kind="too-large", url=url)
