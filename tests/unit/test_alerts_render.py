"""Emails as built from templates: headers, parts, highlighting, and untrusted input."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from pipeline.alerts.render import (
    EntityGroup,
    OutletLink,
    Recipient,
    Segment,
    StoryView,
    clean_text,
    evidence_snippets,
    group_by_entity,
    highlight,
    render_alert,
    render_digest,
    safe_url,
)
from pipeline.alerts.tokens import UNSUBSCRIBE, read_token
from pipeline.config import load_settings

NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)
SETTINGS = load_settings(env={"NEWSMON_HOME": "/nonexistent"}, public_url="https://news.example",
                         mail_from="newsmon alerts <alerts@news.example>", secret_key="k")
ANA = Recipient(id=7, email="ana@example.org", name="Ana Pérez", timezone="America/Caracas")


def _story(**changes) -> StoryView:
    snippets, terms = evidence_snippets([
        {"term": "Tren de Aragua", "snippet": "Police say the Tren de Aragua gang ran it.",
         "weight": 2.0},
        {"term": "Maduro", "snippet": "Maduro denied any link.", "weight": 1.0},
    ])
    values = {"title": "Gang leader arrested", "url": "https://wire.example/a", "outlet": "Wire",
              "published": "2026-11-14 08:00 -04", "snippets": snippets, "terms": terms,
              "other_outlets": (OutletLink(name="Diario", url="https://diario.example/b"),),
              "outlets": ("Wire", "Diario")}
    values.update(changes)
    return StoryView(**values)


def _alert(story: StoryView | None = None, recipient: Recipient = ANA):
    message = render_alert(SETTINGS, recipient=recipient, story=story or _story(),
                           watchlist="venezuela", alert_id=42, created_at=NOW, now=NOW)
    wire = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    return message_from_bytes(wire, policy=policy.default), wire


def test_alert_headers() -> None:
    parsed, _ = _alert()

    assert str(parsed["From"]) == "newsmon alerts <alerts@news.example>"
    assert str(parsed["To"]) == "Ana Pérez <ana@example.org>"
    assert str(parsed["Subject"]) == "[venezuela] Gang leader arrested"
    assert str(parsed["Date"]) == "Sat, 14 Nov 2026 12:00:00 +0000"
    assert str(parsed["Message-ID"]) == "<newsmon.alert.42.1794657600000000@news.example>"
    assert str(parsed["List-Id"]) == "newsmon venezuela alerts <venezuela.newsmon.news.example>"
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    unsubscribe = str(parsed["List-Unsubscribe"]).strip()
    assert unsubscribe.startswith("<https://news.example/unsubscribe/")
    assert read_token("k", unsubscribe[1:-1].rsplit("/", 1)[1], purpose=UNSUBSCRIBE).subscriber_id == 7


def test_alert_has_text_and_html_parts_with_everything_a_reader_needs() -> None:
    parsed, _ = _alert()
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()

    assert parsed.get_content_type() == "multipart/alternative"
    for part in (text, html):
        assert "Gang leader arrested" in part
        assert "Wire" in part and "2026-11-14 08:00 -04" in part
        assert "https://wire.example/a" in part
        assert "Diario" in part and "https://diario.example/b" in part
        assert "https://news.example/unsubscribe/" in part
        assert "https://news.example/preferences/" in part
    assert "Police say the *Tren de Aragua* gang ran it." in text
    assert '<mark style="background:#ffe58a;padding:0 1px">Tren de Aragua</mark> gang' in html
    assert text.index("Tren de Aragua* gang") < text.index("*Maduro* denied")  # strongest first


def test_header_injection_through_title_and_name_is_neutralised() -> None:
    story = _story(title=clean_text("Breaking\r\nBcc: victim@example.org\r\n\r\n<b>body</b>"))
    evil = Recipient(id=7, email="ana@example.org", name="Ana\r\nBcc: victim@example.org",
                     timezone="UTC")

    parsed, wire = _alert(story, evil)

    assert parsed["Bcc"] is None
    assert b"\r\nBcc:" not in wire
    assert str(parsed["Subject"]) == "[venezuela] Breaking Bcc: victim@example.org body"
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ana@example.org"]


@hyp_settings(max_examples=150, deadline=None)
@given(title=st.text(max_size=200), name=st.text(max_size=60))
def test_no_title_or_name_can_add_a_header(title: str, name: str) -> None:
    story = _story(title=clean_text(title) or "(untitled)")
    parsed, _ = _alert(story, Recipient(id=1, email="ana@example.org", name=name,
                                        timezone="UTC"))

    assert parsed.keys() == HEADERS
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ana@example.org"]


HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
           "List-Unsubscribe-Post", "Auto-Submitted", "MIME-Version", "Content-Type"]
# Reproduced on Python 3.11.7 (CVE-2024-6923 class): an encoded word hiding CR LF.
ENCODED_PAYLOAD = "Maduro Venezuela =?utf-8?b?" + base64.b64encode(
    b"\r\nList-Unsubscribe: <https://evil>\r\n\r\nYour account is locked").decode() + "?="


def test_encoded_word_payload_in_title_and_name_stays_text() -> None:
    story = _story(title=clean_text(ENCODED_PAYLOAD))
    evil = Recipient(id=7, email="ana@example.org", name=f"Ana {ENCODED_PAYLOAD}",
                     timezone="UTC")

    parsed, wire = _alert(story, evil)

    assert parsed.keys() == HEADERS  # one List-Unsubscribe, and nothing else added
    assert str(parsed["List-Unsubscribe"]).strip().startswith("<https://news.example/unsubscribe/")
    flattened = "Maduro Venezuela List-Unsubscribe: <https://evil> Your account is locked"
    assert str(parsed["Subject"]) == f"[venezuela] {flattened}"
    assert [(a.display_name, a.addr_spec) for a in parsed["To"].addresses] == [
        ("Ana Maduro Venezuela List-Unsubscribe https //evil Your account is locked",
         "ana@example.org")]
    assert b"\r\nList-Unsubscribe: <https://evil>" not in wire
    assert b"\r\nYour account is locked" not in wire
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert text.splitlines()[0] == clean_text(ENCODED_PAYLOAD)  # inert in a body: never decoded
    assert "https://evil" not in text + html and "Your account is locked" not in text + html


def _encoded(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode('utf-8', 'surrogatepass')).decode()}?="


@hyp_settings(max_examples=150, deadline=None)
@given(title=st.text(max_size=120), name=st.text(max_size=60))
def test_no_encoded_word_in_a_title_or_name_can_add_a_header(title: str, name: str) -> None:
    story = _story(title=clean_text(f"News {_encoded(title)} {title}"))
    parsed, _ = _alert(story, Recipient(id=1, email="ana@example.org",
                                        name=f"{_encoded(name)} {name}", timezone="UTC"))

    assert parsed.keys() == HEADERS
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ana@example.org"]
    assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])


def test_feed_html_is_stripped_and_only_http_links_survive() -> None:
    story = _story(
        title=clean_text('<img src=x onerror="alert(1)">Maduro <script>steal()</script>speaks'),
        url=safe_url("javascript:alert(document.cookie)"),
        other_outlets=(OutletLink(name=clean_text("<a href='javascript:x'>Evil</a>"),
                                  url=safe_url("data:text/html,<script>alert(1)</script>")),),
    )
    parsed, _ = _alert(story)
    html = parsed.get_body(("html",)).get_content()

    assert "<script" not in html and "onerror" not in html and "<img" not in html
    assert "javascript:" not in html and "data:" not in html
    assert "Maduro speaks" in html and "Evil" in html
    assert "(the article has no web link)" in parsed.get_body(("plain",)).get_content()


def test_html_special_characters_in_text_are_escaped_not_interpreted() -> None:
    parsed, _ = _alert(_story(title='AT&T says "<Maduro>" & co', outlet="A<B>"))
    html = parsed.get_body(("html",)).get_content()

    assert "AT&amp;T says &#34;&lt;Maduro&gt;&#34; &amp; co" in html
    assert "A&lt;B&gt;" in html


@pytest.mark.parametrize("url, safe", [
    ("https://wire.example/a?b=1#c", True),
    ("http://wire.example/", True),
    ("  https://wire.example/padded  ", True),
    ("HTTPS://WIRE.EXAMPLE/", True),
    ("javascript:alert(1)", False),
    ("JaVaScRiPt:alert(1)", False),
    ("java\nscript:alert(1)", False),
    ("data:text/html;base64,PHNjcmlwdD4=", False),
    ("vbscript:msgbox", False),
    ("//wire.example/protocol-relative", False),
    ("/relative/path", False),
    ("https://", False),
    ("https://wire.example/a b", False),
    ("https://wire.example/\r\nBcc: x", False),
    ("", False),
    (None, False),
])
def test_safe_url(url: str | None, safe: bool) -> None:
    assert (safe_url(url) is not None) is safe


def test_clean_text() -> None:
    assert clean_text("<p>Maduro&nbsp;<b>speaks</b></p>\n<script>x()</script>") == "Maduro speaks"
    assert clean_text("AT&amp;T &lt;3") == "AT&T <3"
    assert clean_text("a\x01b\u2028c\r\nd\x00e") == "a b c de"
    assert clean_text("x" * 50, limit=10) == "x" * 9 + "…"


def test_highlight_prefers_the_longest_term_and_ignores_case() -> None:
    parts = highlight("TREN DE ARAGUA and Aragua state", ["Aragua", "Tren de Aragua"])

    assert parts == (Segment("TREN DE ARAGUA", True), Segment(" and ", False),
                     Segment("Aragua", True), Segment(" state", False))


def test_evidence_snippets_are_cleaned_deduplicated_and_capped() -> None:
    evidence = [{"term": "Maduro", "snippet": f"Maduro said <b>thing {i % 5}</b>",
                 "weight": i} for i in range(10)]

    snippets, terms = evidence_snippets(evidence)

    assert terms == ("Maduro",)
    assert len(snippets) == 4
    assert ["".join(s.text for s in parts) for parts in snippets] == [
        "Maduro said thing 4", "Maduro said thing 3", "Maduro said thing 2",
        "Maduro said thing 1"]


def test_group_by_entity_orders_by_coverage() -> None:
    def story(title: str, entity: str | None, *outlets: str) -> StoryView:
        return _story(title=title, entity=entity, outlet=outlets[0], outlets=outlets,
                      other_outlets=())

    groups = group_by_entity([
        story("m1", "maduro", "A"), story("t1", "tren_de_aragua", "A", "B"),
        story("x", None, *"ABCDEFGHI"), story("t2", "tren_de_aragua", "B", "C", "D", "E"),
        story("m2", "maduro", "A", "B", "C"), story("s", "us_strikes", "A"),
    ])

    # Group counts are distinct outlets: A, B, C, D, E carried Tren de Aragua stories.
    assert [(g.name, [s.title for s in g.stories], g.outlets) for g in groups] == [
        ("Tren de Aragua", ["t2", "t1"], 5), ("Maduro", ["m2", "m1"], 3),
        ("US Strikes", ["s"], 1), ("Other", ["x"], 9)]


def test_digest_message() -> None:
    groups = [EntityGroup(name="Tren de Aragua", stories=(_story(), _story(
        title="Old strike", catch_up=True, outlet="Gazette", outlets=(), other_outlets=())))]
    message = render_digest(SETTINGS, recipient=ANA, groups=groups,
                            local_date=NOW.date(), digest_id=3, created_at=NOW, now=NOW)
    text = message.get_body(("plain",)).get_content()

    assert str(message["Subject"]) == "newsmon digest 2026-11-14: 2 stories"
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert "== Tren de Aragua: 2 stories, 3 outlets ==" in text
    assert "Wire, 2026-11-14 08:00 -04 (2 outlets)" in text
    assert "* [catch-up] Old strike" in text
    assert "[catch-up]: published before this digest's period" in text

