"""Canonical URLs, text fingerprints and MinHash signatures (pure functions, no I/O)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls

from pipeline.dedup.keys import (
    LSH_BANDS,
    NUM_PERM,
    canonical_url,
    estimate_similarity,
    is_near_duplicate,
    lsh_bands,
    minhash_signature,
    shingles,
    text_fingerprint,
)

ARTICLE = "https://www.example.com/world/2025/09/05/us-strike-boat-venezuela"


@pytest.mark.parametrize(
    ("variant", "why"),
    [
        (ARTICLE + "?utm_source=twitter&utm_medium=social&utm_campaign=share", "utm_*"),
        (ARTICLE + "?fbclid=IwAR0abc123", "fbclid"),
        (ARTICLE + "?gclid=Cj0KCQ&msclkid=99&dclid=1", "ad click ids"),
        (ARTICLE + "?mc_cid=abc&mc_eid=def", "mailchimp"),
        (ARTICLE + "?_ga=2.1234&igshid=xyz", "analytics and instagram"),
        (ARTICLE + "?cmpid=rss&ocid=msn&ref=hp", "feed and portal campaign ids"),
        (ARTICLE + "?ref_src=twsrc%5Etfw&at_medium=RSS&at_campaign=KARANGA", "ref_src, at_*"),
        (ARTICLE + "#comments", "fragment"),
        (ARTICLE + "/", "trailing slash"),
        ("HTTPS://WWW.EXAMPLE.COM/world/2025/09/05/us-strike-boat-venezuela", "scheme/host case"),
        ("https://www.example.com:443/world/2025/09/05/us-strike-boat-venezuela", "default port"),
        ("https://www.example.com//world/2025/09/05//us-strike-boat-venezuela", "double slashes"),
        (ARTICLE + "/amp", "/amp suffix"),
        (ARTICLE + "/amp/", "/amp/ suffix"),
        ("https://www.example.com/amp/world/2025/09/05/us-strike-boat-venezuela", "/amp/ prefix"),
        (ARTICLE + "?amp=1", "?amp=1"),
        (ARTICLE + "?outputType=amp", "outputType=amp"),
        ("https://amp.example.com/world/2025/09/05/us-strike-boat-venezuela", "amp. host"),
        ("https://m.example.com/world/2025/09/05/us-strike-boat-venezuela", "m. host"),
        ("https://mobile.example.com/world/2025/09/05/us-strike-boat-venezuela", "mobile. host"),
        (
            "https://user:secret@www.example.com/world/2025/09/05/us-strike-boat-venezuela",
            "userinfo",
        ),
        (" " + ARTICLE + "\n", "surrounding whitespace"),
    ],
)
def test_url_variants_fold_into_one_canonical(variant: str, why: str) -> None:
    assert canonical_url(variant) == ARTICLE, why


def test_article_reachable_under_amp_utm_and_mobile_urls_has_one_canonical() -> None:
    seen = [
        "https://elpais.com/america/2025-09-05/ataque-lancha-caribe.html",
        "https://elpais.com/america/2025-09-05/ataque-lancha-caribe.html?ssm=TW_CC&utm_source=x",
        "https://elpais.com/america/2025-09-05/ataque-lancha-caribe.amp.html?outputType=amp",
        "https://m.elpais.com/america/2025-09-05/ataque-lancha-caribe.html#comentarios",
    ]
    # the m. host folds to www.: the bare-domain URL only joins through its rel=canonical
    canonical = "https://elpais.com/america/2025-09-05/ataque-lancha-caribe.html"
    assert {canonical_url(u, page_canonical=canonical) for u in seen} == {canonical}


def test_amp_html_suffix_and_mobile_host_keep_the_rest_of_the_url() -> None:
    assert canonical_url("https://m.bbc.co.uk/mundo/noticias-123.amp") == (
        "https://www.bbc.co.uk/mundo/noticias-123"
    )
    assert canonical_url("https://amp.theguardian.com/world/2025/sep/05/story") == (
        "https://www.theguardian.com/world/2025/sep/05/story"
    )
    # a mobile prefix on a deeper subdomain only loses the prefix
    assert canonical_url("https://m.noticias.example.com/a") == "https://noticias.example.com/a"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://example.com/index.php?id=123&utm_source=rss",
            "https://example.com/index.php?id=123",
        ),
        ("https://example.com/?p=4567", "https://example.com/?p=4567"),
        ("https://example.com/news?b=2&a=1", "https://example.com/news?a=1&b=2"),
        ("http://example.com:8080/a/", "http://example.com:8080/a"),
        ("http://example.com", "http://example.com/"),
        ("https://example.com/Noticias/Venezuela", "https://example.com/Noticias/Venezuela"),
        ("https://example.com/a%20b/ñandú", "https://example.com/a%20b/%C3%B1and%C3%BA"),
        ("http://127.0.0.1:8765/story/?utm_source=feed", "http://127.0.0.1:8765/story"),
    ],
)
def test_what_identifies_a_page_is_kept(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_different_articles_keep_different_canonicals() -> None:
    urls_ = [
        "https://example.com/index.php?id=1",
        "https://example.com/index.php?id=2",
        "https://example.com/news/a",
        "https://example.com/news/b",
        "http://example.com/news/a",
        "https://example.org/news/a",
    ]
    assert len({canonical_url(u) for u in urls_}) == len(urls_)


class TestPageCanonical:
    def test_same_site_canonical_wins(self) -> None:
        assert (
            canonical_url(
                "https://amp.example.com/x/amp?utm_source=g",
                page_canonical="https://www.example.com/x",
            )
            == "https://www.example.com/x"
        )

    def test_same_site_canonical_on_another_subdomain_wins(self) -> None:
        assert (
            canonical_url(
                "https://noticias.example.com/123", page_canonical="https://example.com/n/123-slug"
            )
            == "https://example.com/n/123-slug"
        )

    def test_relative_canonical_is_resolved_against_the_page(self) -> None:
        assert (
            canonical_url("https://www.example.com/print/123?share=1", page_canonical="../news/123")
            == "https://www.example.com/news/123"
        )

    def test_canonical_is_normalised_too(self) -> None:
        assert (
            canonical_url(
                "https://example.com/a", page_canonical="HTTPS://Example.com/b/?utm_medium=x#top"
            )
            == "https://example.com/b"
        )

    def test_cross_site_canonical_is_ignored(self) -> None:
        # a syndicated copy names the original outlet; this copy keeps its own URL
        assert (
            canonical_url(
                "https://news.yahoo.com/us-strike-boat-123.html?utm_source=x",
                page_canonical="https://apnews.com/article/us-strike-boat-abc",
            )
            == "https://news.yahoo.com/us-strike-boat-123.html"
        )

    def test_home_page_canonical_is_ignored(self) -> None:
        assert canonical_url(
            "https://example.com/news/123", page_canonical="https://example.com/"
        ) == ("https://example.com/news/123")
        assert canonical_url("https://example.com/news/123", page_canonical="/") == (
            "https://example.com/news/123"
        )

    @pytest.mark.parametrize(
        "junk", ["", "   ", "javascript:void(0)", "mailto:x@example.com", "http://[::1"]
    )
    def test_unusable_canonical_is_ignored(self, junk: str) -> None:
        assert canonical_url("https://example.com/news/123#x", page_canonical=junk) == (
            "https://example.com/news/123"
        )

    def test_loopback_site_canonical_wins(self) -> None:
        assert canonical_url("http://127.0.0.1:8000/a?amp=1", page_canonical="/b") == (
            "http://127.0.0.1:8000/b"
        )


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "not a url", "/relative/path", "ftp://example.com/a", "http://", "http://[::1/x"],
)
def test_bad_input_comes_back_stripped(bad: str) -> None:
    assert canonical_url(f"  {bad}\t") == bad.strip()


def test_non_string_input_gives_empty_key() -> None:
    assert canonical_url(None) == ""  # type: ignore[arg-type]


TRACKING = st.dictionaries(
    st.sampled_from(["utm_source", "utm_campaign", "fbclid", "gclid", "mc_cid", "_ga", "cmpid"]),
    st.text("abcXYZ019-_", min_size=1, max_size=8),
    min_size=1,
)
# the pieces URL handling trips on, glued at random
PIECES = ("http://", "https://", "HTTP://", "m.", "amp.", "www.", "example.com", "Ex.CO.uk", ":80",
          ":443", ":8080", "/", "//", "amp", ".amp", ".html", "?", "&", "=", "#", "%", "%2F", "ñ",
          "@", "[", "]", "..", " ", "\t", "utm_source", "outputType", "x", "1")  # fmt: skip
URL_PIECES = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=16).map("".join)
ANY_URL = urls() | URL_PIECES | st.text()


@settings(max_examples=400)
@given(url=ANY_URL, page=st.none() | ANY_URL)
def test_canonical_url_never_raises_and_is_idempotent(url: str, page: str | None) -> None:
    once = canonical_url(url, page_canonical=page)
    assert isinstance(once, str)
    assert canonical_url(once) == once


@settings(max_examples=200)
@given(url=urls(), tracking=TRACKING, fragment=st.text("abc-", max_size=5))
def test_tracking_parameters_and_fragments_never_change_the_canonical(
    url: str, tracking: dict[str, str], fragment: str
) -> None:
    base = url.split("#", 1)[0]
    extra = "&".join(f"{k}={v}" for k, v in tracking.items())
    noisy = f"{base}{'&' if '?' in base else '?'}{extra}#{fragment}"
    assert canonical_url(noisy) == canonical_url(base)


# --- fingerprints --------------------------------------------------------------------------

TEXT = (
    "El presidente venezolano, Nicolás Maduro, llamó este sábado a alistarse en la Milicia "
    "Bolivariana.\n\nLa oposición calificó la convocatoria como un intento de distraer."
)


@pytest.mark.parametrize(
    "variant",
    [
        TEXT.upper(),
        "  " + TEXT.replace(" ", "   ").replace("\n\n", "\n") + "\n",
        TEXT.replace(",", "").replace(".", " ."),
        TEXT.replace("á", "a").replace("ó", "o"),
        TEXT.replace("Nicolás", "Nicola\u0301s"),  # decomposed accent
        "«" + TEXT.replace(",", " —") + "»",
    ],
)
def test_fingerprint_ignores_case_spacing_punctuation_and_accents(variant: str) -> None:
    assert text_fingerprint(variant) == text_fingerprint(TEXT)


@pytest.mark.parametrize(
    "other",
    [
        TEXT.replace("sábado", "domingo"),
        TEXT.replace("Milicia Bolivariana", "Bolivariana Milicia"),
        TEXT + " Fin.",
        TEXT.split("\n\n")[0],
    ],
)
def test_fingerprint_differs_when_the_words_differ(other: str) -> None:
    assert text_fingerprint(other) != text_fingerprint(TEXT)


# --- MinHash and LSH -----------------------------------------------------------------------

STORY = " ".join(
    f"paragraph {i} reports that officials in caracas said the vessel number {i} was hit"
    for i in range(30)
)


def test_signature_is_deterministic_and_sized() -> None:
    first, second = minhash_signature(STORY), minhash_signature(STORY)
    assert first.shape == (NUM_PERM,)
    assert np.array_equal(first, second)
    assert estimate_similarity(first, second) == 1.0


def test_similarity_estimate_tracks_shingle_overlap() -> None:
    paragraphs = [
        f"sentence {i} about the strike on the boat near the coast of sucre" for i in range(40)
    ]
    half = " ".join(paragraphs[:20])
    whole = " ".join(paragraphs)
    a, b = shingles(half), shingles(whole)
    exact = len(a & b) / len(a | b)
    estimate = estimate_similarity(minhash_signature(half), minhash_signature(whole))
    assert abs(estimate - exact) < 0.1  # 3 standard deviations of a 256-value estimate


def test_empty_text_matches_nothing() -> None:
    empty = minhash_signature("  ... \n ")
    assert lsh_bands(empty) == []
    assert not is_near_duplicate(empty, minhash_signature(""))
    assert not is_near_duplicate(empty, minhash_signature(STORY))


def test_band_keys_fit_a_signed_bigint_and_mix_in_the_band_index() -> None:
    keys = lsh_bands(minhash_signature(STORY))
    assert len(keys) == LSH_BANDS
    assert all(-(2**63) <= k < 2**63 for k in keys)
    # identical values in every band must still give a different key per band
    flat = np.full(NUM_PERM, 12345, dtype=np.uint32)
    assert len(set(lsh_bands(flat))) == LSH_BANDS


def test_signatures_from_the_database_work_as_plain_int_lists() -> None:
    signature = minhash_signature(STORY)
    as_stored = [int(v) for v in signature]
    assert lsh_bands(as_stored) == lsh_bands(signature)
    assert estimate_similarity(as_stored, signature) == 1.0


def test_mismatched_signatures_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="dedup: signatures differ in length"):
        estimate_similarity(minhash_signature(STORY), minhash_signature(STORY, num_perm=64))
    with pytest.raises(ValueError, match="dedup: 40 bands x 8 rows"):
        lsh_bands(minhash_signature(STORY), bands=40, rows=8)
