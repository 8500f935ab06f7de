"""Emails as built from templates: headers, parts, what a reader sees, and untrusted input."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from pipeline.alerts.render import (
    AlertItem,
    EntityGroup,
    EventView,
    Piece,
    Recipient,
    clean_text,
    describe_change,
    group_by_entity,
    is_material,
    language_name,
    lead_of,
    render_alert,
    render_digest,
    safe_url,
    without_title,
)
from pipeline.alerts.tokens import UNSUBSCRIBE, read_token
from pipeline.config import load_settings

NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)
SETTINGS = load_settings(env={"NEWSMON_HOME": "/nonexistent"}, public_url="https://news.example",
                         mail_from="newsmon alerts <alerts@news.example>", secret_key="k")
ANA = Recipient(id=7, email="ana@example.org", name="Ana Pérez", timezone="America/Caracas")


def _event(**changes) -> EventView:
    pieces = (Piece(outlet="Wire", url="https://wire.example/a", lang="en"),
              Piece(outlet="Diario", url="https://diario.example/b", lang="es"))
    values = {"title": "Gang leader arrested", "url": "https://wire.example/a",
              "published": "2026-11-14 08:00 -04",
              "lead": "Police say the gang ran it. Maduro denied any link.",
              "why": ("Tren de Aragua", "Nicolas Maduro"), "pieces": pieces,
              "outlet_keys": frozenset({"Wire", "Diario"}),
              "language_keys": frozenset({"en", "es"})}
    values.update(changes)
    return EventView(**values)


def _alert(event: EventView | None = None, recipient: Recipient = ANA, *,
           items: list[AlertItem] | None = None):
    items = items or [AlertItem(event=event or _event(), watchlist="venezuela")]
    message = render_alert(SETTINGS, recipient=recipient, items=items, alert_id=42,
                           created_at=NOW, now=NOW)
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
        body = part.split("<body", 1)[-1]  # the HTML's <title> names it too, unseen
        assert body.count("Gang leader arrested") == 1  # the headline once
        assert "Wire" in part and "2026-11-14 08:00 -04" in part
        assert "https://wire.example/a" in part
        assert "Diario" in part and "https://diario.example/b" in part
        assert "2 outlets" in part and "English, Spanish" in part
        assert "Police say the gang ran it. Maduro denied any link." in part
        assert "Why you get this: Tren de Aragua, Nicolas Maduro" in part
        assert "https://news.example/unsubscribe/" in part
        assert "https://news.example/preferences/" in part
    assert "  - Diario (Spanish): https://diario.example/b" in text
    assert '<a href="https://diario.example/b" style="color:#0b4f8a">Diario</a>' in html


def test_header_injection_through_title_and_name_is_neutralised() -> None:
    story = _event(title=clean_text("Breaking\r\nBcc: victim@example.org\r\n\r\n<b>body</b>"))
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
    story = _event(title=clean_text(title) or "(untitled)")
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
    story = _event(title=clean_text(ENCODED_PAYLOAD))
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
    assert clean_text(ENCODED_PAYLOAD) in text.splitlines()  # inert in a body: never decoded
    assert "https://evil" not in text + html and "Your account is locked" not in text + html


def _encoded(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode('utf-8', 'surrogatepass')).decode()}?="


@hyp_settings(max_examples=150, deadline=None)
@given(title=st.text(max_size=120), name=st.text(max_size=60))
def test_no_encoded_word_in_a_title_or_name_can_add_a_header(title: str, name: str) -> None:
    story = _event(title=clean_text(f"News {_encoded(title)} {title}"))
    parsed, _ = _alert(story, Recipient(id=1, email="ana@example.org",
                                        name=f"{_encoded(name)} {name}", timezone="UTC"))

    assert parsed.keys() == HEADERS
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ana@example.org"]
    assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])


def test_feed_html_is_stripped_and_only_http_links_survive() -> None:
    story = _event(
        title=clean_text('<img src=x onerror="alert(1)">Maduro <script>steal()</script>speaks'),
        url=safe_url("javascript:alert(document.cookie)"),
        pieces=(Piece(outlet=clean_text("<a href='javascript:x'>Evil</a>"),
                      url=safe_url("data:text/html,<script>alert(1)</script>")),),
    )
    parsed, _ = _alert(story)
    html = parsed.get_body(("html",)).get_content()

    assert "<script" not in html and "onerror" not in html and "<img" not in html
    assert "javascript:" not in html and "data:" not in html
    assert "Maduro speaks" in html and "Evil" in html
    assert "  - Evil: (no web link)" in parsed.get_body(("plain",)).get_content()


def test_html_special_characters_in_text_are_escaped_not_interpreted() -> None:
    parsed, _ = _alert(_event(title='AT&T says "<Maduro>" & co',
                              pieces=(Piece(outlet="A<B>", url=None),)))
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


def test_the_lead_drops_a_repeated_headline_and_keeps_two_or_three_sentences() -> None:
    title = "Gang leader arrested in Chile"
    text = ("Gang leader arrested in Chile\n\nPolice arrested the leader on Friday. He was "
            "wanted in three countries. Officials expect more arrests. A fourth sentence.")

    assert lead_of(text, title=title) == ("Police arrested the leader on Friday. He was wanted "
                                          "in three countries. Officials expect more arrests.")
    assert lead_of(text, title=title, sentences=2).endswith("three countries.")
    assert without_title("GANG LEADER ARRESTED IN CHILE: police say", title) == "police say"
    assert without_title("Gang leaders elsewhere", title) == "Gang leaders elsewhere"
    assert lead_of("", title=title) == ""


def test_what_an_update_says_and_when_one_is_due() -> None:
    event = _event(pieces=(Piece(outlet="Wire", url=None, lang="en"),
                           Piece(outlet="El Pitazo", url=None, lang="es"),
                           Piece(outlet="Efecto Cocuyo", url=None, lang="es")),
                   outlet_keys=frozenset({"Wire", "El Pitazo", "Efecto Cocuyo"}),
                   language_keys=frozenset({"en", "es"}))

    assert describe_change(event, shown_outlets=["Wire"], shown_languages=["en"]) == \
        "first Spanish coverage: El Pitazo, Efecto Cocuyo; now 3 outlets (was 1)"
    assert language_name("pt") == "Portuguese" and language_name("xx") == "xx"
    outlets, langs = frozenset("ABCD"), frozenset({"en"})
    assert is_material(outlets=outlets, languages=langs, shown_outlets="AB", shown_languages=["en"])
    assert not is_material(outlets=outlets, languages=langs, shown_outlets="ABC",
                           shown_languages=["en"])
    assert not is_material(outlets=frozenset("AB"), languages=langs, shown_outlets="A",
                           shown_languages=["en"])  # one more outlet is not yet news
    assert is_material(outlets=frozenset("A"), languages=frozenset({"en", "es"}),
                       shown_outlets="A", shown_languages=["en"])


def test_several_events_in_one_email_each_once_news_before_updates() -> None:
    news = _event(title="Gang leader arrested")
    update = _event(title="Boat struck off Sucre", pieces=(Piece(outlet="Herald", url=None),))
    parsed, _ = _alert(items=[
        AlertItem(event=update, watchlist="venezuela", change="first Spanish coverage: Diario"),
        AlertItem(event=news, watchlist="venezuela")])
    text = parsed.get_body(("plain",)).get_content()

    assert str(parsed["Subject"]) == "[venezuela] Gang leader arrested (and 1 more)"
    assert text.index("Gang leader arrested") < text.index("UPDATE: first Spanish coverage")
    assert text.count("Gang leader arrested") == 1 and text.count("Boat struck off Sucre") == 1


def test_group_by_entity_orders_by_coverage() -> None:
    def event(title: str, entity: str | None, *outlets: str) -> EventView:
        return _event(title=title, entity=entity, outlet_keys=frozenset(outlets),
                      pieces=tuple(Piece(outlet=o, url=None) for o in outlets))

    groups = group_by_entity([
        event("m1", "maduro", "A"), event("t1", "tren_de_aragua", "A", "B"),
        event("x", None, *"ABCDEFGHI"), event("t2", "tren_de_aragua", "B", "C", "D", "E"),
        event("m2", "maduro", "A", "B", "C"), event("s", "us_strikes", "A"),
    ])

    # Group counts are distinct outlets: A, B, C, D, E carried Tren de Aragua events.
    assert [(g.name, [e.title for e in g.events], g.outlets) for g in groups] == [
        ("Tren de Aragua", ["t2", "t1"], 5), ("Maduro", ["m2", "m1"], 3),
        ("US Strikes", ["s"], 1), ("Other", ["x"], 9)]


def test_digest_message() -> None:
    groups = [EntityGroup(name="Tren de Aragua", events=(_event(), _event(
        title="Old strike", catch_up=True, pieces=(Piece(outlet="Gazette", url=None),),
        outlet_keys=frozenset({"Gazette"}), language_keys=frozenset())))]
    message = render_digest(SETTINGS, recipient=ANA, groups=groups,
                            local_date=NOW.date(), digest_id=3, created_at=NOW, now=NOW)
    text = message.get_body(("plain",)).get_content()

    assert str(message["Subject"]) == "newsmon digest 2026-11-14: 2 events"
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert "== Tren de Aragua: 2 events, 3 outlets ==" in text
    assert "First reported 2026-11-14 08:00 -04, 2 outlets, English, Spanish" in text
    assert "* [catch-up] Old strike" in text
    assert "[catch-up]: published before this digest's period" in text
