"""Header values newsmon writes, and the re-parse check that refuses anything else.

The payload is the one reproduced on Python 3.11.7 (CVE-2024-6923 class): an
RFC 2047 encoded word hiding CR LF, a second List-Unsubscribe and a forged body.
"""

from __future__ import annotations

import base64
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from pipeline.alerts.headers import (
    MAX_SUBJECT,
    UnsafeMessage,
    check_message,
    clean_header,
    header_address,
    subject_line,
    wire_bytes,
)
from pipeline.alerts.smtp import sender_address
from pipeline.config import load_settings

HIDDEN = b"\r\nList-Unsubscribe: <https://evil>\r\n\r\nYour account is locked"
PAYLOAD = f"Maduro Venezuela =?utf-8?b?{base64.b64encode(HIDDEN).decode()}?="
FLATTENED = "Maduro Venezuela List-Unsubscribe: <https://evil> Your account is locked"
AS_NAME = "Maduro Venezuela List-Unsubscribe https //evil Your account is locked"
TEXT, HTML = "Maduro speaks.\n", "<p>Maduro speaks.</p>\n"


def _ew(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def _built(subject: str, *, set_raw: bool = False) -> tuple[EmailMessage, dict]:
    """A message put together without `clean_header`, as a careless renderer would."""
    headers = {"From": Address("newsmon", addr_spec="alerts@news.example"),
               "To": Address("Ana", addr_spec="ana@example.org"),
               "Subject": subject}
    msg = EmailMessage()
    for name, value in headers.items():
        if set_raw and name == "Subject":
            msg.set_raw(name, value)  # straight to the wire, no parsing at all
        else:
            msg[name] = value
    msg.set_content(TEXT)
    msg.add_alternative(HTML, subtype="html")
    return msg, headers


def test_clean_header_decodes_the_encoded_word_then_strips_what_it_hid() -> None:
    assert clean_header(PAYLOAD) == FLATTENED
    assert clean_header(f"Ana {PAYLOAD}", limit=30) == "Ana Maduro Venezuela List-Uns…"


@pytest.mark.parametrize("value, cleaned", [
    ("Ana Pérez =?utf-8?q?caf=C3=A9?=", "Ana Pérez café"),  # non-ASCII beside an encoded word
    (_ew(_ew("\r\nBcc: eve@example.org")), "= ?utf-8?b?DQpCY2M6IGV2ZUBleGFtcGxlLm9yZw== ?="),
    ("plain =? text ?=", "plain = ? text ?="),
    ("=?x-unknown?q?abc?=", "abc"),  # unknown charset: decoded anyway, never raises
    ("=?utf-8?b?!!!bad?= x", "m\ufffd x"),  # broken base64
    ("a\u202egnp.exe\u2028b\x00c\x85d", "a gnp.exe b c d"),  # bidi override, separators, C0, C1
    ("Ana\r\nBcc: eve@example.org", "Ana Bcc: eve@example.org"),
    ("  spaced \t out  ", "spaced out"),
    (None, ""),
])
def test_clean_header(value: str | None, cleaned: str) -> None:
    assert clean_header(value) == cleaned


def test_header_address_cleans_the_name_and_refuses_an_address_that_is_not_plain() -> None:
    address = header_address("ana@example.org", f"Ana {PAYLOAD}")
    assert (address.display_name, address.addr_spec) == (f"Ana {AS_NAME}", "ana@example.org")
    for bad in ("ana@example.org\r\nBcc: eve@example.org", "ana@example.org, eve@example.org",
                "Eve <eve@example.org>", '"ana"@example.org', "@", ""):
        with pytest.raises(UnsafeMessage):
            header_address(bad, "Ana")


def test_sender_display_name_is_cleaned_too() -> None:
    settings = load_settings(env={"NEWSMON_HOME": "/nonexistent"},
                             mail_from=f'"{PAYLOAD}" <alerts@news.example>')
    sender = sender_address(settings)
    assert (sender.display_name, sender.addr_spec) == (AS_NAME, "alerts@news.example")


def test_display_names_lose_the_characters_that_need_quoting() -> None:
    """3.11.7 drops the quotes of a long quoted display name when it folds the line,
    so the words of a name can turn into an address; a name without specials needs none."""
    name = "Eve Attacker <eve@evil.example> (Reuters), Dr. Ana \"Pérez\" of the long name club"
    address = header_address("ana@example.org", name)
    msg = EmailMessage()
    msg["To"] = address
    reparsed = BytesParser(policy=policy.SMTP).parsebytes(wire_bytes(msg))

    assert address.display_name == \
        "Eve Attacker eve evil example Reuters Dr Ana Pérez of the long name club"
    assert [a.addr_spec for a in reparsed["To"].addresses] == ["ana@example.org"]
    assert header_address("ana@example.org", "x" * 300).display_name == "x" * 99 + "…"


def test_a_cleaned_message_passes_the_check() -> None:
    msg, headers = _built(clean_header(PAYLOAD))
    check_message(msg, headers=headers, text=TEXT, html=HTML)
    assert wire_bytes(msg).count(b"List-Unsubscribe") == 1  # only as text inside the Subject


@pytest.mark.parametrize("set_raw, subject", [
    (False, PAYLOAD),  # 3.11.7 writes the hidden lines; patched Pythons decode it into Subject
    (True, "Breaking\r\nBcc: eve@example.org"),  # raw CR LF: re-parsed, or refused by the writer
])
def test_the_check_refuses_a_message_with_a_smuggled_header(set_raw: bool, subject: str) -> None:
    msg, headers = _built(subject, set_raw=set_raw)

    with pytest.raises(UnsafeMessage, match="refusing to send|cannot be written safely"):
        check_message(msg, headers=headers, text=TEXT, html=HTML)


def test_the_check_refuses_a_body_other_than_the_rendered_one() -> None:
    msg, headers = _built("Maduro speaks")

    with pytest.raises(UnsafeMessage, match="text/plain part differs"):
        check_message(msg, headers=headers, text="Your account is locked\n", html=HTML)
    with pytest.raises(UnsafeMessage, match="text/html part differs"):
        check_message(msg, headers=headers, text=TEXT, html="<p>Your account is locked</p>")


def test_the_check_refuses_a_header_newsmon_did_not_set() -> None:
    msg, headers = _built("Maduro speaks")
    msg["Bcc"] = "eve@example.org"

    with pytest.raises(UnsafeMessage, match="Bcc"):
        check_message(msg, headers=headers, text=TEXT, html=HTML)


WORDS = ["Maduro", "Cúcuta", "régimen", "EE.UU.", "operativo", "—", "«Tren", "de", "Aragua»",
         "niño", "x" * 30, "São", "🇻🇪", "a", "“quote”", "Tren de Aragua:", "TdA"]


@hyp_settings(max_examples=300, deadline=None)
@given(words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=40))
def test_a_long_subject_reads_back_exactly_as_set(words: list[str]) -> None:
    """3.11.7's folder dropped or added a space where it folded a long subject; the
    wire policy folds it without that, whatever the mix of ASCII and not."""
    subject = subject_line("[venezuela]", " ".join(words), "(and 2 more)")
    message = EmailMessage()
    message["Subject"] = subject
    message.set_content("x")

    parsed = BytesParser(policy=policy.default).parsebytes(wire_bytes(message))

    assert str(parsed["Subject"]) == subject
    assert len(subject) <= MAX_SUBJECT and subject == " ".join(subject.split())


def test_a_subject_is_one_line_cut_on_a_word_boundary() -> None:
    title = "  Tren de Aragua:\n detienen\t a cinco presuntos miembros " + "en la frontera " * 12

    subject = subject_line("[venezuela]", title, "(and 1 more)")

    assert subject.startswith("[venezuela] Tren de Aragua: detienen a cinco presuntos miembros")
    assert subject.endswith("… (and 1 more)")
    kept = subject.removeprefix("[venezuela] ").removesuffix("… (and 1 more)")
    squashed = " ".join(title.split())
    assert squashed.startswith(kept) and squashed[len(kept)] == " "  # whole words only
    assert len(subject) <= MAX_SUBJECT and "  " not in subject and "\n" not in subject
    assert subject_line("[venezuela] Update:", "Short") == "[venezuela] Update: Short"
