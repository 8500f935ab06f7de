"""Page bytes -> Article, and the full/teaser/paywalled/failed verdict on what came out."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.extract.completeness import classify_fulltext
from pipeline.extract.page import ExtractError, extract_article, without_leading_title

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"
URL = "https://diario.example/politica/medidas-economicas?utm_source=rss"


def extract(name: str, *, content_type: str | None = None):
    return extract_article((PAGES / name).read_bytes(), url=URL, content_type=content_type)


def test_article_has_text_and_the_metadata_the_page_states() -> None:
    article = extract("es_metadata.html")
    assert article.url == article.canonical_url == URL
    assert article.title == "Maduro anuncia medidas económicas; la oposición pide garantías"
    assert "Tren de Aragua en el estado Zulia" in article.text
    assert "Todos los derechos reservados" not in article.text  # footer is not the article
    assert article.author == "Ana Pérez"
    assert article.published_at == datetime(2025, 3, 4, 10, 15, tzinfo=timezone(timedelta(hours=-4)))
    assert article.lang == "es"  # from <html lang="es-VE">
    assert article.site_name == "Diario de Prueba"
    assert article.description == "El gobierno presentó un paquete de medidas contra la inflación."
    assert article.image_url == "https://diario.example/img/caracas.jpg"
    assert article.categories == ("Política",)
    assert article.tags == ("Venezuela",)
    # a relative <link rel=canonical>, resolved against the page URL
    assert article.page_canonical_url == "https://diario.example/politica/medidas-economicas"


def test_page_without_canonical_or_date_says_so() -> None:
    article = extract("es_utf8_bom.html")
    assert article.page_canonical_url is None
    # the only year on the page is "© 2025" in the footer: not a publication date
    assert article.published_at is None


def test_undeclared_cp1252_page_extracts_clean_spanish() -> None:
    article = extract("es_cp1252_undeclared.html")
    assert article.title.endswith("en Año Nuevo")
    assert "“Es una violación de la soberanía popular”" in article.text


def test_mojibake_is_repaired_in_title_and_text() -> None:
    article = extract("es_mojibake.html")
    assert article.title == "Venezuela defiende su soberanía ante Estados Unidos"
    assert "la soberanía nacional no está en discusión" in article.text
    assert "“nuevos ataques”" in article.text
    assert "Ã" not in article.text


def test_http_charset_reaches_extraction() -> None:
    article = extract("es_latin9_wrong_meta.html", content_type="text/html; charset=iso-8859-15")
    assert article.title == "Precios en euros: el kilo de carne a 9 €"


def test_page_without_main_text_raises_a_clear_error() -> None:
    with pytest.raises(ExtractError) as caught:
        extract("empty_shell.html")
    assert str(caught.value) == f"extract: no main text found ({URL})"
    assert caught.value.kind == "no-text"


def test_non_html_bytes_raise_extract_error_not_a_crash() -> None:
    with pytest.raises(ExtractError):
        extract_article(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", url=URL)


def test_extract_error_survives_pickling_between_processes() -> None:
    error = pickle.loads(pickle.dumps(ExtractError("timed out after 1 s", url=URL, kind="timeout")))
    assert (str(error), error.kind) == (f"extract: timed out after 1 s ({URL})", "timeout")


# --- classify_fulltext ------------------------------------------------------------------

SENTENCE = (
    "The US military said it struck another vessel it accused of carrying drugs near the "
    "Venezuelan coast, the latest in a series of strikes that lawmakers have questioned."
)
ARTICLE = " ".join([SENTENCE] * 8)


def test_full_article_is_full() -> None:
    assert classify_fulltext(text=ARTICLE, feed_summary="US strikes another boat.",
                             baseline_chars=len(ARTICLE)) == "full"


def test_extracted_paywalled_page_is_paywalled() -> None:
    article = extract("en_paywall.html")
    assert classify_fulltext(text=article.text, feed_summary=None, baseline_chars=None) == (
        "paywalled"
    )


@pytest.mark.parametrize("ending", [
    "Subscribe to continue reading.",
    "This article is for subscribers only. Already a subscriber? Sign in.",
    "Suscríbete para seguir leyendo.",
    "Este contenido es exclusivo para suscriptores.",
])
def test_subscription_prompts_at_the_end_mean_paywalled(ending) -> None:
    text = "The opening paragraph of the story, which is all the page shows. " + ending
    assert classify_fulltext(text=text, feed_summary=None, baseline_chars=None) == "paywalled"


def test_extracted_spanish_teaser_ending_in_leer_mas_is_a_teaser() -> None:
    article = extract("es_teaser.html")
    assert classify_fulltext(text=article.text, feed_summary=None, baseline_chars=None) == "teaser"


@pytest.mark.parametrize("ending", ["Read more »", "Continue reading…", "Seguir leyendo", "[…]"])
def test_read_more_endings_mean_teaser(ending) -> None:
    text = "Detienen a tres presuntos miembros del Tren de Aragua en el estado Zulia. " + ending
    assert classify_fulltext(text=text, feed_summary=None, baseline_chars=None) == "teaser"


def test_leer_mas_inside_a_long_article_is_not_a_teaser() -> None:
    text = ARTICLE + "\nLeer más: Maduro anuncia medidas económicas\n" + ARTICLE
    assert classify_fulltext(text=text, feed_summary=None, baseline_chars=None) == "full"


def test_text_much_shorter_than_the_feed_summary_is_a_teaser() -> None:
    summary = "<p>" + ARTICLE[:600] + " &amp; more</p>"  # feeds send HTML summaries
    text = ARTICLE[:200]
    assert classify_fulltext(text=text, feed_summary=summary, baseline_chars=None) == "teaser"
    assert classify_fulltext(text=ARTICLE, feed_summary=summary, baseline_chars=None) == "full"


def test_text_far_below_the_sources_usual_length_is_a_teaser() -> None:
    text = ARTICLE[:300]
    assert classify_fulltext(text=text, feed_summary=None, baseline_chars=4000) == "teaser"
    assert classify_fulltext(text=text, feed_summary=None, baseline_chars=None) == "full"


@pytest.mark.parametrize("text", ["", "   \n ", "Loading..."])
def test_no_text_is_failed(text) -> None:
    assert classify_fulltext(text=text, feed_summary="A summary.", baseline_chars=3000) == "failed"


def test_a_first_paragraph_that_repeats_the_title_is_dropped() -> None:
    title = "Maduro anuncia medidas económicas; la oposición pide garantías"
    text = "MADURO anuncia medidas  económicas: la oposición pide garantías.\nEl gobierno presentó…"
    assert without_leading_title(text, title) == "El gobierno presentó…"
    # a paragraph that only starts like the title, or no title at all, keeps the text whole
    lead = "Maduro anuncia medidas económicas; la oposición pide garantías y elecciones.\nMás."
    assert without_leading_title(lead, title) == lead
    assert without_leading_title(text, "") == text


def test_extracted_text_does_not_open_with_the_headline() -> None:
    page = (
        "<html><head><title>Alcaldía anuncia plan de agua</title></head><body><article>"
        "<h1>Alcaldía anuncia plan de agua</h1>"
        + "<p>La alcaldía de Caracas presentó este lunes un plan para el suministro de agua"
        " potable en doce parroquias, con camiones cisterna y nuevas tuberías.</p>" * 4
        + "</article></body></html>"
    )
    article = extract_article(page.encode(), url=URL)
    assert article.title == "Alcaldía anuncia plan de agua"
    assert article.text.startswith("La alcaldía de Caracas presentó")


def _byline_page(head: str) -> bytes:
    paragraphs = "".join(
        f"<p>Párrafo {i}: el gobierno de Venezuela anunció medidas económicas nuevas "
        "para contener la inflación y la oposición pidió garantías electorales.</p>"
        for i in range(8)
    )
    return (f"<html lang='es'><head><title>Medidas</title>{head}</head><body><article>"
            "<h1>Medidas</h1><div class='author'>Por Redacción Central</div>"
            f"{paragraphs}</article></body></html>").encode()


def test_author_is_the_one_the_page_declares() -> None:
    declared = _byline_page('<meta name="author" content="Ana Pérez">')
    assert extract_article(declared, url=URL).author == "Ana Pérez"
    json_ld = _byline_page('<script type="application/ld+json">{"@context": "https://schema.org",'
                           ' "@type": "NewsArticle", "author": {"@type": "Person",'
                           ' "name": "Luis Gómez"}}</script>')
    assert extract_article(json_ld, url=URL).author == "Luis Gómez"


def test_author_is_not_guessed_from_the_markup() -> None:
    # A byline guessed from class="author" is as often "Redacción" or "Username" as a
    # name (docs/decisions.md); without a declared author the feed's is used instead.
    article = extract_article(_byline_page(""), url=URL)
    assert article.author is None
    assert "Párrafo 7" in article.text
