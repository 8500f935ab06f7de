"""Decoding page bytes: HTTP charset, then the page's declaration, then detection; mojibake."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.encoding import (
    charset_from_content_type,
    declared_charset,
    decode_html,
    repair_mojibake,
)

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"
SPANISH = "Nicolás Maduro anunció"  # in every es_* page but the mojibake one


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def test_undeclared_windows_1252_spanish_page_is_detected_with_enye_and_curly_quotes() -> None:
    text = decode_html(page("es_cp1252_undeclared.html"), None)
    assert "en Año Nuevo" in text  # a cp1250 guess would give "Ańo"
    assert "“Es una violación de la soberanía popular”" in text
    assert "9 € en algunos mercados" in text


def test_meta_declaration_is_used_when_http_gives_no_charset() -> None:
    body = page("es_latin1_meta.html")
    assert declared_charset(body) == "cp1252"  # browsers read latin-1 labels as cp1252
    assert SPANISH in decode_html(body, "text/html")


def test_http_charset_beats_the_page_declaration() -> None:
    # ISO-8859-15 bytes (euro sign at 0xA4) under a <meta charset=windows-1252> that lies.
    body = page("es_latin9_wrong_meta.html")
    assert "9 €" in decode_html(body, "text/html; charset=ISO-8859-15")
    assert "9 ¤" in decode_html(body, None)  # without the header the declaration rules


def test_utf8_header_on_a_legacy_body_falls_through_to_the_declaration() -> None:
    text = decode_html(page("es_latin1_meta.html"), "text/html; charset=utf-8")
    assert SPANISH in text
    assert "\ufffd" not in text


@pytest.mark.parametrize("content_type", [None, "text/html; charset=iso-8859-1"])
def test_valid_utf8_wins_over_a_stale_latin1_declaration(content_type) -> None:
    text = decode_html(page("es_utf8_stale_meta.html"), content_type)
    assert SPANISH in text
    assert "Ã" not in text


@pytest.mark.parametrize("name", ["es_utf8_bom.html", "es_utf16le_bom.html"])
def test_byte_order_mark_beats_http_charset_and_is_not_kept(name) -> None:
    text = decode_html(page(name), "text/html; charset=iso-8859-1")
    assert text.startswith("<!DOCTYPE html>")
    assert SPANISH in text


def test_one_stray_byte_does_not_turn_a_utf8_page_into_cp1252() -> None:
    good = page("es_utf8_bom.html")[3:]
    body = good.replace(b"Caracas.", b"Caracas.\xe9", 1)  # a Latin-1 byte from an ad snippet
    text = decode_html(body, None)
    assert SPANISH in text
    assert text.count("\ufffd") == 1


def test_unknown_charset_label_is_ignored() -> None:
    assert charset_from_content_type("text/html; charset=no-such-thing") is None
    assert SPANISH in decode_html(page("es_cp1252_undeclared.html"), "text/html; charset=bogus")


def test_charset_parameter_is_read_case_and_quote_insensitively() -> None:
    assert charset_from_content_type('text/html; Charset="UTF-8"') == "utf-8"
    assert charset_from_content_type("text/html; charset=Windows-1252") == "cp1252"
    assert charset_from_content_type("text/html") is None


def test_xml_declaration_counts_as_the_documents_own() -> None:
    body = '<?xml version="1.0" encoding="ISO-8859-1"?><html><p>Año</p></html>'.encode("latin-1")
    assert declared_charset(body) == "cp1252"
    assert "Año" in decode_html(body, None)


@pytest.mark.parametrize("broken, fixed", [
    ("soberanÃ­a", "soberanía"),
    ("NicolÃ¡s Maduro y el narcotrÃ¡fico", "Nicolás Maduro y el narcotráfico"),
    ("â€œTren de Araguaâ€\x9d", "“Tren de Aragua”"),
    ("ExtradiciÃ³n â€” El PaÃ­s", "Extradición — El País"),
    ("The Â£5 ticket", "The £5 ticket"),
])
def test_mojibake_is_repaired(broken, fixed) -> None:
    assert repair_mojibake(broken) == fixed


@pytest.mark.parametrize("good", [
    "La soberanía de Venezuela",
    "¿Qué dijo Nicolás Maduro? ¡Nada!",
    "Ñandú, pingüino, acción, «comillas», “curvas” — y 20 €",
    "SÃO PAULO e NÃO são palavras portuguesas",
    "naïve café in Düsseldorf",
    "ﬁnal ＡＢＣ ½ °C ™",  # ligatures and full-width stay as published
    "Привет, мир",
    "日本語のテキスト",
    "plain ASCII text",
])
def test_repair_leaves_good_text_alone(good) -> None:
    assert repair_mojibake(good) == good


def test_mojibake_is_repaired_line_by_line_and_clean_lines_stay_byte_for_byte() -> None:
    # ftfy sees only the lines that hold mojibake; a page mixing both keeps its clean
    # lines exactly, including ones a whole-page pass might have touched.
    page = ("<p>SÃO PAULO e NÃO são palavras</p>\r\n"
            "<p>La soberanÃ­a de Venezuela</p>\n"
            "<p>ﬁnal ＡＢＣ ½ “curvas”</p>\n"
            "<p>â€œTren de Araguaâ€\x9d</p>")
    assert repair_mojibake(page) == ("<p>SÃO PAULO e NÃO são palavras</p>\r\n"
                                     "<p>La soberanía de Venezuela</p>\n"
                                     "<p>ﬁnal ＡＢＣ ½ “curvas”</p>\n"
                                     "<p>“Tren de Aragua”</p>")
