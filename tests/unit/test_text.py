"""The one cleaner for text from outside: what must never survive, and what must survive as is."""

from __future__ import annotations

import base64
import re

from hypothesis import assume, given
from hypothesis import strategies as st

from pipeline.encoding import has_mojibake
from pipeline.sources.fields import absolute_http_url, language_code
from pipeline.text import (
    MAX_SUMMARY,
    MAX_TITLE,
    clean_author,
    clean_id,
    clean_summary,
    clean_text,
    clean_title,
    decode_encoded_words,
)

# NUL, C0 and C1 controls, lone surrogates, line/paragraph separators, bidi
# embeddings/overrides/isolates: none may come out of the cleaner.
FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]")
HOSTILE = st.sampled_from(
    ["\x00", "\r\n", "\n", "\r", "\x1b[31m", "\x07", "\x7f", "\x85", "\x9b", "\u2028",
     "\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\ud800", "\udfff",
     "=?utf-8?b?", "?=", "=?utf-8?q?a=0D=0AB?=", "<", ">", "&", "&#0;", "&#x202e;"])
NASTY_TEXT = st.lists(st.one_of(st.text(max_size=12), HOSTILE), max_size=30).map("".join)


def encoded_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


@given(NASTY_TEXT)
def test_nothing_invisible_or_controlling_survives(value: str) -> None:
    for cleaned in (clean_text(value), clean_title(value), clean_summary(value),
                    clean_author(value) or "", clean_id(value) or ""):
        assert not FORBIDDEN.search(cleaned), repr(cleaned)
        cleaned.encode("utf-8")  # storable: no lone surrogate left


@given(st.text(max_size=80))
def test_encoded_words_never_smuggle_a_line_break(payload: str) -> None:
    title = clean_title(f"Breaking {encoded_word(payload)} news")
    assert not FORBIDDEN.search(title)
    assert "\r" not in title and "\n" not in title


def test_an_encoded_header_injection_decodes_to_one_harmless_line() -> None:
    forged = encoded_word("Maduro habla\r\nBcc: victim@example.org\r\n\r\n<b>hola</b>")
    assert clean_title(forged) == "Maduro habla Bcc: victim@example.org hola"
    assert clean_author("=?iso-8859-1?q?Mar=EDa_Pe=F1a?=") == "María Peña"
    assert decode_encoded_words("=?bogus?q?abc?=") == "abc"  # unknown charset: no crash


def test_the_reported_hostile_values() -> None:
    assert clean_title("Maduro\u0000Venezuela") == "MaduroVenezuela"
    assert clean_title("Caracas\x01\x1b[31m\x7f\x85hoy\u2028ayer") == "Caracas [31m hoy ayer"
    assert clean_title("Informe \u202egnp.exe\u202c de \u2066Caracas\u2069") == \
        "Informe gnp.exe de Caracas"
    assert clean_title("Lone \ud800 surrogate") == "Lone surrogate"
    assert clean_id("guid\x00with\r\nbreaks") == "guidwith  breaks"


EN_ES = [
    "Maduro habla en Caracas: la economía crece 3,5 % según el BCV",
    "Niño, ñandú, pingüino, acción, ÁÉÍÓÚ ¿Qué? ¡Sí!",
    "U.S. sanctions on Venezuela's oil — \"a turning point\", officials say",
    "Protesta en Maracaibo 🇻🇪 ✊🏽 👩‍👩‍👧 #Venezuela",
    "AT&T <3 Q&A: 5 > 3 and 2 < 4",
    "Tom's café – 10:30 a. m. (GMT-4)",
]


def test_ordinary_english_and_spanish_text_is_unchanged() -> None:
    for text in EN_ES:
        assert clean_title(text) == text
        assert clean_summary(text) == text
        assert clean_author(text) == text


@given(st.text(alphabet=st.characters(categories=["L", "N", "Zs", "So", "Sm", "Sc", "Pd",
                                                  "Ps", "Pe", "Po"],
                                      exclude_characters="<>&=\u00a0\u3000\u2007\u202f"),
               max_size=60))
def test_strip_controls_keeps_every_word(text: str) -> None:
    assume(not has_mojibake(text))  # repaired on purpose (test_markup_and_mojibake_are_undone)
    assert clean_text(text) == " ".join(text.split())


def test_lengths_are_capped() -> None:
    assert clean_title("x" * 10_000) == "x" * (MAX_TITLE - 1) + "…"
    assert len(clean_summary("palabra " * 10_000)) <= MAX_SUMMARY


def test_markup_and_mojibake_are_undone() -> None:
    assert clean_summary("<p>Maduro&nbsp;<b>habla</b></p><script>x()</script>") == "Maduro habla"
    assert clean_title("SoberanÃ­a y economÃ\u00ada") == "Soberanía y economía"


def test_links_lose_controls_and_language_codes_must_be_letters() -> None:
    assert absolute_http_url("/a\x00b\r\n\u202e", "http://x.test/") == "http://x.test/ab"
    assert language_code("es-VE") == "es"
    assert language_code("es\x00") is None
