"""Page bytes -> text: pick the right character encoding, then undo double encoding.

Order of evidence (`decode_html`): a byte-order mark, then the HTTP charset, then the
document's own declaration (`<meta charset>`, `http-equiv`, XML declaration), then
detection. One rule overrides the declarations: a body that reads as UTF-8 is UTF-8.
Multi-byte UTF-8 sequences almost never occur by chance in legacy-encoded text, while
wrong declarations (a server's default `ISO-8859-1`, a `<meta>` left behind after a CMS
moved to UTF-8) are common, and honouring them turns every accent into mojibake.
"""

from __future__ import annotations

import codecs
import re
from email.message import Message

import charset_normalizer
import ftfy

# The WHATWG encoding standard decodes these labels as a superset; so do browsers, and
# pages are written for browsers (a "latin-1" page with curly quotes is really cp1252).
_SUPERSETS = {
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
}
# Labels Python does not know but browsers do.
_EXTRA_LABELS = {"x-sjis": "cp932", "windows-874": "cp874", "x-mac-roman": "mac-roman"}
_WIDE = {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}
# 7-bit encodings whose bytes are all ASCII, so "valid UTF-8" says nothing about them.
_SEVEN_BIT = {"iso2022_jp", "iso2022_jp_2", "iso2022_kr", "utf-7", "hz"}

_BOMS = (  # UTF-32 first: its little-endian BOM starts with the UTF-16 one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

PRESCAN_BYTES = 8192  # declarations sit in <head>; browsers look at 1 KiB, real heads run longer
DETECT_BYTES = 64 * 1024  # detection is slow on large inputs and gains nothing past this
_LABEL = rb"""["']?\s*([A-Za-z0-9_.:\-]+)"""
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*" + _LABEL, re.IGNORECASE)
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*" + _LABEL, re.IGNORECASE)

# Only the encoding repairs: everything else ftfy does by default (curling quotes, NFC,
# ligatures, full-width letters, line breaks) changes text that was right as published.
_ENCODING_FIXES_ONLY = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)


# UTF-8 read as cp1252/Latin-1: a lead byte (U+00C2-U+00F4 as a character) followed by
# continuation bytes (U+0080-U+00BF, or the cp1252 characters at 0x80-0x9F).
_CONT = (
    "[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)
_MOJIBAKE = re.compile(f"[\u00c2-\u00df]{_CONT}|[\u00e0-\u00ef]{_CONT}{{2}}|[\u00f0-\u00f4]{_CONT}{{3}}")
# Substring tests are far cheaper than the pattern on a 200 KB page; every common case of
# mojibake (accented letters, symbols, curly quotes and dashes, emoji, Cyrillic, Latin
# Extended) starts with one of these.
_MOJIBAKE_LEADS = ("Ã", "Â", "â€", "ðŸ", "Ð", "Ñ€", "Å", "Ä")


def decode_html(body: bytes, content_type: str | None) -> str:
    """Decode a page body to text, BOM first, then HTTP charset, declaration, detection."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    declared = [
        enc
        for enc in (charset_from_content_type(content_type), declared_charset(body))
        if enc is not None
    ]
    # A declaration the bytes cannot contradict: wide encodings, 7-bit encodings.
    if declared and (declared[0] in _WIDE or declared[0] in _SEVEN_BIT):
        return body.decode(declared[0], errors="replace")
    if is_mostly_utf8(body):
        return body.decode("utf-8", errors="replace")
    for encoding in declared:
        if encoding != "utf-8" and encoding not in _WIDE:
            return body.decode(encoding, errors="replace")
    return body.decode(detect_charset(body), errors="replace")


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, as a Python codec name."""
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type
    return codec_name(message.get_content_charset())


def declared_charset(body: bytes) -> str | None:
    """The charset a document declares for itself near its start, as a Python codec name."""
    head = body[:PRESCAN_BYTES]
    match = _XML_DECL.match(head) or _META_CHARSET.search(head)
    if match is None:
        return None
    encoding = codec_name(match.group(1).decode("ascii"))
    # A declaration readable as ASCII cannot be in UTF-16: browsers read it as UTF-8 too.
    return "utf-8" if encoding in _WIDE else encoding


def codec_name(label: str | None) -> str | None:
    """Normalise an encoding label to the Python codec that browsers would use, or None."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _EXTRA_LABELS:
        return _EXTRA_LABELS[label]
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def is_mostly_utf8(body: bytes) -> bool:
    """True if the body is UTF-8, allowing a few broken sequences among many good ones.

    Real pages are sometimes UTF-8 with a stray byte from a truncated snippet or an ad;
    calling those cp1252 would garble every accent on the page to save one character.
    """
    try:
        body.decode("utf-8")
        return True
    except UnicodeDecodeError:
        pass
    text = body.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    good = non_ascii - broken
    return good >= 20 * broken


def detect_charset(body: bytes) -> str:
    """Guess the encoding of undeclared legacy bytes, leaning to cp1252 when it is as good.

    charset_normalizer scores cp1250 and cp1252 alike on Spanish text, and cp1250 turns
    every "ñ" into "ń"; for the English and Spanish pages we watch, cp1252 is the right
    tie-break (it is also the browsers' fallback for Western pages).
    """
    results = charset_normalizer.from_bytes(body[:DETECT_BYTES])
    best = results.best()
    if best is None:
        return "cp1252"
    for result in results:
        if (
            result.encoding == "cp1252"
            and result.chaos <= best.chaos + 0.01
            and result.coherence >= best.coherence - 0.01
        ):
            return "cp1252"
    return best.encoding


def repair_mojibake(text: str) -> str:
    """Undo double-encoded UTF-8 ("soberanÃ­a" -> "soberanía") and leave good text alone.

    Works on a whole page as well as on a title: run it on the HTML before extraction,
    because extraction drops the soft hyphens and C1 controls that mojibake is made of.
    """
    if not has_mojibake(text):
        return text
    # ftfy judges each line on its own anyway; on a 400 KB page a handful of lines hold
    # mojibake, and weighing all the others cost more than the rest of the page's extraction.
    return "".join(
        ftfy.fix_text(line, _ENCODING_FIXES_ONLY) if _MOJIBAKE.search(line) else line
        for line in text.splitlines(keepends=True)
    )


def has_mojibake(text: str) -> bool:
    """True if the text holds a UTF-8 sequence misread as cp1252/Latin-1 (cheap on clean text)."""
    return any(lead in text for lead in _MOJIBAKE_LEADS) and _MOJIBAKE.search(text) is not None
