"""Email headers: what newsmon writes into them, and proof the sent bytes say only that.

Titles reach Subject and subscriber names reach To. Python's email package
before 3.11.10 / 3.12.5 (CVE-2024-6923) decodes an RFC 2047 encoded word in a
header value and writes what it hides, CR LF included, as raw lines: one feed
title could add headers and a body to every subscriber's email, and stripping
CR/LF beforehand does not help because the encoded word carries them. So:

- every header value goes through `clean_header`: encoded words decoded first,
  then controls stripped, and any `=?` left broken so no client decodes again;
  display names (`header_address`) also lose the RFC 5322 specials, which 3.11.7
  mis-folds;
- the Subject is one line cut on a word boundary (`subject_line`) and written by
  `WIRE_POLICY`, which encodes and folds it with the legacy `email.header.Header`:
  3.11.7's folder loses or adds spaces where it splits a long subject (a leading
  space, two words run together), and `check_message` compares it exactly;
- every rendered message is serialized and re-parsed by `check_message`, which
  refuses it (`UnsafeMessage`) unless the bytes carry exactly the headers,
  values and parts newsmon set. The defence does not depend on the Python
  patch level.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from email import policy
from email.errors import MessageError
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser

MAX_HEADER = 900  # RFC 5322 allows 998 per line; ours are far shorter, titles capped lower
# C0, DEL, C1, line/paragraph separators, bidi overrides (they disguise what a subject
# says) and lone surrogates (they cannot be encoded). Deliberately its own pattern, not
# pipeline.text's: this module is the last defence before the wire and trusts no cleaning
# done upstream, nor depends on it.
_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]+")
# RFC 5322 specials: a display name holding one is written as a quoted string, and 3.11.7
# drops the quotes when it folds a long one, so `Eve <eve@evil.example> ...` becomes an address.
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]+')
MAX_NAME = 100
# Headers the email package adds itself for a text + HTML message.
_MIME_HEADERS = frozenset({"MIME-Version", "Content-Type", "Content-Transfer-Encoding"})
MAX_SUBJECT = 140
# Headers whose parsed value must equal what was set character for character (the others
# are compared without whitespace, see _unspaced).
_EXACT = frozenset({"Subject"})


class _WirePolicy(policy.EmailPolicy):
    """policy.SMTP (CRLF line ends), with the Subject encoded and folded by `Header`.

    The modern folder of 3.11.7 misplaces the space at a fold between encoded words
    (decoders drop it, two words run together) or before a first word that does not fit
    (a stray leading space). `Header` keeps every space inside the encoded words or
    folds only at whitespace, and `check_message` proves the result decodes exactly.
    """

    def _fold(self, name, value, refold_binary=False):
        if name.lower() != "subject":
            return super()._fold(name, value, refold_binary)
        text = str(value)
        header = Header(text, "us-ascii" if text.isascii() else "utf-8",
                        maxlinelen=self.max_line_length, header_name=name)
        return f"{name}: {header.encode(linesep=self.linesep)}{self.linesep}"


WIRE_POLICY = _WirePolicy(linesep="\r\n")  # the bytes the server gets


class UnsafeMessage(ValueError):
    """A rendered message whose bytes say more or other than newsmon wrote: never sent."""


def clean_header(value: str | None, *, limit: int = MAX_HEADER) -> str:
    """One line of plain text that stays one header value in every client.

    Encoded words are decoded with the email package's own (lenient) parser, as a
    receiving client would: make_header() raises on unknown charsets, bad base64
    and non-ASCII text beside an encoded word. What they decode to is cleaned
    like the rest, and a `=?` that is left (a nested encoded word) is broken.
    """
    if not value:
        return ""
    text = _CONTROL.sub(" ", value)
    text = str(policy.default.header_factory("X-Newsmon-Clean", text))
    text = " ".join(_CONTROL.sub(" ", text).split())
    return _capped(text.replace("=?", "= ?"), limit)


def subject_line(prefix: str, text: str | None, suffix: str = "", *,
                 limit: int = MAX_SUBJECT) -> str:
    """`prefix + text + suffix` as one clean line of at most `limit` characters: whitespace
    squashed, no leading space, and `text` cut on a word boundary (with "…") to fit."""
    prefix, suffix = clean_header(prefix), clean_header(suffix)
    text = clean_header(text)
    room = limit - (len(prefix) + 1 if prefix else 0) - (len(suffix) + 1 if suffix else 0)
    if len(text) > room:
        cut = text[: max(room - 1, 0)]
        if " " in cut.strip():
            cut = cut.rsplit(" ", 1)[0]  # the last whole word that fits
        text = cut.rstrip(" ,;:-–—") + "…"
    return clean_header(" ".join(f"{prefix} {text} {suffix}".split()), limit=limit)


def clean_display_name(name: str | None) -> str:
    """A display name for From/To: a cleaned header value without RFC 5322 specials."""
    return _capped(" ".join(_SPECIALS.sub(" ", clean_header(name)).split()), MAX_NAME)


def header_address(addr_spec: str, name: str | None = None) -> Address:
    """An address for From/To: the display name cleaned, an address that is not plain refused."""
    try:
        address = Address(display_name=clean_display_name(name), addr_spec=addr_spec)
    except (ValueError, IndexError, MessageError) as exc:  # the parser raises all three
        raise UnsafeMessage(f"headers: {addr_spec!r} is not a plain address: {exc}") from exc
    if address.addr_spec != addr_spec:  # never mail other than the address we were given
        raise UnsafeMessage(f"headers: {addr_spec!r} is not a plain address")
    return address


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as it goes to the SMTP server (what `check_message` checked)."""
    return message.as_bytes(policy=WIRE_POLICY)


def check_message(message: EmailMessage, *, headers: Mapping[str, str | Address], text: str,
                  html: str) -> None:
    """Raise UnsafeMessage unless the serialized message, parsed again, is exactly
    `headers` (plus the MIME headers) over a text part `text` and an HTML part `html`."""
    try:
        data = wire_bytes(message)
    except (MessageError, ValueError) as exc:  # a patched Python refuses to write such a header
        raise UnsafeMessage(f"headers: cannot be written safely: {exc}") from exc
    parsed = BytesParser(policy=WIRE_POLICY).parsebytes(data)
    problems = _header_problems(parsed, message, headers) + _body_problems(parsed, message,
                                                                           text, html)
    if problems:
        raise UnsafeMessage("refusing to send: the message parses to other than newsmon wrote: "
                            + "; ".join(problems)[:800])


def _header_problems(parsed: EmailMessage, built: EmailMessage,
                     headers: Mapping[str, str | Address]) -> list[str]:
    expected = Counter(list(headers)) + Counter(n for n in built if n in _MIME_HEADERS)
    got = Counter(parsed.keys())
    if got != expected:
        return [f"headers {sorted(got.elements())!r}, expected {sorted(expected.elements())!r}"]
    problems = []
    for name in got:
        want = headers[name] if name in headers else built[name]
        if isinstance(want, Address):
            same = [(_unspaced(a.display_name), a.addr_spec) for a in parsed[name].addresses] \
                == [(_unspaced(want.display_name), want.addr_spec)]
        elif name in _EXACT:
            same = str(parsed[name]) == str(want)
        else:
            same = _unspaced(parsed[name]) == _unspaced(want)
        if not same:
            problems.append(f"{name} {str(parsed[name])!r}, expected {str(want)!r}")
    return problems


def _body_problems(parsed: EmailMessage, built: EmailMessage, text: str,
                   html: str) -> list[str]:
    parts = list(parsed.iter_parts())
    kinds = [p.get_content_type() for p in parts]
    if parsed.get_content_type() != "multipart/alternative" or \
            kinds != ["text/plain", "text/html"]:
        return [f"parts {parsed.get_content_type()} {kinds!r}, expected text and HTML"]
    problems = []
    for part, made, content in zip(parts, built.iter_parts(), (text, html), strict=True):
        if Counter(part.keys()) != Counter(made.keys()):
            problems.append(f"{part.get_content_type()} part headers {part.keys()!r}")
        elif part.get_content().splitlines() != content.splitlines():
            problems.append(f"{part.get_content_type()} part differs from what was rendered")
    return problems


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _unspaced(value: str) -> str:
    """The value without whitespace: folding may add or double spaces where it splits an
    encoded word (3.11.7 does, in long non-ASCII names), and whitespace hides nothing; the
    header names and addresses around it are compared exactly."""
    return "".join(str(value).split())
