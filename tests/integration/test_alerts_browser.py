"""An alert, an update and a digest as received, shown in a real Chromium: screenshots
(desktop and phone width) go to the test artefacts for a person to look at, and the
checks below hold what looking at them showed matters.

Needs Debian's chromium and the Playwright client; skips cleanly without them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import psycopg
import pytest

from pipeline.alerts import send_digests, send_pending
from tests.support.browser import artefact_dir
from tests.support.newsrows import add_article, add_event, add_subscriber_row
from tests.support.smtp import SmtpServer

pytest_plugins = ["tests.support.browser"]

NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)
HEADLINE = "Chilean police arrest Tren de Aragua leader in Santiago raid"
TEXT = (f"{HEADLINE}\n\nChilean police arrested a senior leader of the Tren de Aragua gang in a "
        "dawn raid on Tuesday, prosecutors said. The man, a Venezuelan national, was wanted in "
        "three countries. More detentions are expected in the coming days. Officials declined "
        "to name the suspects.")
WIDTHS = {"desktop": 900, "phone": 390}


@pytest.fixture
def emails(db_url, settings) -> dict[str, EmailMessage]:
    """A first alert, its update and a digest, as the SMTP server received them."""
    with psycopg.connect(db_url, autocommit=True) as conn, SmtpServer() as smtp:
        settings = smtp.configure(settings.replace(alert_batch_minutes=0))
        add_subscriber_row(conn, "ana@example.org", name="Ana Pérez",
                           created_at=NOW - timedelta(days=30), timezone="America/Caracas")
        add_subscriber_row(conn, "daily@example.org", created_at=NOW - timedelta(days=30),
                           mode="daily", digest_hour=7)
        event = add_event(conn, first_seen_at=NOW)
        pieces = [("Reuters", "en", HEADLINE, TEXT),
                  ("Associated Press", "en",
                   "Alleged Tren de Aragua boss detained in Chile after months-long manhunt", ""),
                  ("El Pitazo", "es", "Capturan en Chile a un cabecilla del Tren de Aragua", "")]
        for i, (outlet, lang, title, text) in enumerate(pieces):
            add_article(conn, title=title, text=text, url=f"https://news{i}.example/tda",
                        site_name=outlet, lang=lang, published_at=NOW - timedelta(minutes=20),
                        now=NOW, event_id=event, entities={"tren_de_aragua": 3})
        add_article(conn, title="US strikes another suspected drug boat off Venezuela",
                    text="The US military struck a boat it said carried drugs for the Tren de "
                         "Aragua gang, killing everyone aboard. The Pentagon released a short "
                         "video of the strike.",
                    url="https://herald.example/boat", site_name="Miami Herald",
                    published_at=NOW, now=NOW, entities={"us_strikes": 1})
        send_pending(db_url, settings, now=NOW)
        later = NOW + timedelta(hours=1)
        for i, outlet in enumerate(("Folha de S.Paulo", "Público")):
            add_article(conn, title=f"Polícia do Chile prende chefe do Tren de Aragua ({i})",
                        url=f"https://pt{i}.example/tda", site_name=outlet, lang="pt",
                        published_at=later, now=later, event_id=event,
                        entities={"tren_de_aragua": 2})
        send_pending(db_url, settings, now=later)
        send_digests(db_url, settings, now=NOW + timedelta(hours=19))  # 07:00 the next day
        received = {m.rcpt_tos[0]: m.message for m in smtp.messages if "daily" in m.rcpt_tos[0]}
        alerts = [m.message for m in smtp.messages if m.rcpt_tos == ("ana@example.org",)]
    assert len(alerts) == 2, [str(m["Subject"]) for m in alerts]
    return {"alert": alerts[0], "update": alerts[1], "digest": received["daily@example.org"]}


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


@pytest.mark.parametrize("kind", ["alert", "update", "digest"])
def test_emails_look_right_in_chromium(browser, emails, kind: str) -> None:
    message = emails[kind]
    html = message.get_body(("html",)).get_content()
    plain = message.get_body(("plain",)).get_content()
    out = artefact_dir("alerts")
    for name, width in WIDTHS.items():
        page = browser.new_page(viewport={"width": width, "height": 800})
        try:
            page.set_content(html, wait_until="load")
            page.screenshot(path=str(out / f"{kind}-{name}.png"), full_page=True)
            shown = page.inner_text("body")
            overflow = page.evaluate("document.documentElement.scrollWidth")
            hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.href)")
        finally:
            page.close()
        assert overflow <= width, f"{kind} scrolls sideways at {width}px"
    assert (out / f"{kind}-phone.png").stat().st_size > 0

    # The headline once; each outlet by its name; the plain part says what the page shows.
    assert shown.count(HEADLINE) == 1
    for outlet in ("Reuters", "Associated Press", "El Pitazo"):
        assert outlet in shown and outlet in plain
    assert not _words(shown) - _words(plain), _words(shown) - _words(plain)
    assert all(h.startswith(("https://", "http://")) for h in hrefs)
    assert "Why you get this: Tren de Aragua" in shown
    assert "The man, a Venezuelan national, was wanted in three countries." in shown
    if kind == "update":
        assert ("Update: first Portuguese coverage: Folha de S.Paulo, Público" in shown)
        assert str(message["Subject"]) == f"[venezuela] Update: {HEADLINE}"
    if kind == "alert":
        assert "US strikes another suspected drug boat off Venezuela" in shown
        assert "America/Caracas" not in shown and "-04" in shown  # the reader's time zone
