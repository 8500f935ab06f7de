"""Issue 21's storm, end to end: real cycles over a loopback news site, a real SMTP server,
and `newsmon alerts send`.

One event is covered by four outlets in six separately written pieces (English and
Spanish), a second event by two pieces; a cycle later two more pieces on the first event
arrive, one of them its first Portuguese coverage. A subscriber gets one email about the
two events, then one update naming what changed; re-runs send nothing.

The pieces are grouped into events by the cycle's own event assignment
(pipeline/store/events.py): nothing here tells it which piece belongs where.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from pipeline.cli.alerts import alerts
from pipeline.ingest.cycle import run_cycle
from pipeline.sources import load_sources_file
from tests.support.loopback import LoopbackServer
from tests.support.newsrows import add_subscriber_row
from tests.support.smtp import SmtpServer

# (path, event, outlet, language, title, paragraphs)
PIECES = [
    ("/reuters/tda-chile.html", "A", "Reuters", "en",
     "Chilean police arrest Tren de Aragua leader in Santiago raid",
     [("Chilean police arrested a senior leader of the Tren de Aragua gang in a dawn raid on a "
      "house in southern Santiago on Tuesday, the national prosecutor's office said."),
      ("The man, a Venezuelan national wanted in three countries, is accused of running "
      "extortion and human trafficking rings across northern Chile for the Tren de Aragua."),
      ("Prosecutors said the arrest followed an eight-month investigation with police in "
      "Peru and Colombia, and that more detentions were expected in the coming days.")]),
    ("/reuters/tda-chile-reaction.html", "A", "Reuters", "en",
     "Chile's interior minister hails arrest of gang boss as blow to Tren de Aragua",
     [("Chile's interior minister on Tuesday called the arrest of a Tren de Aragua leader the "
      "most important blow yet against the Venezuelan gang's operations in the country."),
      ("Speaking at La Moneda, the minister thanked investigators and said the detained man "
      "would face charges of kidnapping, extortion and criminal association."),
      ("Opposition lawmakers welcomed the arrest but urged the government to tighten "
      "controls on the northern border, where they say the gang recruits migrants.")]),
    ("/ap/chile-gang-leader.html", "A", "Associated Press", "en",
     "Alleged Tren de Aragua boss detained in Chile after months-long manhunt",
     [("An alleged boss of Venezuela's Tren de Aragua criminal organization was detained in "
      "Chile after a months-long manhunt that spanned three South American countries."),
      ("Authorities said he directed a network that extorted shopkeepers and smuggled "
      "migrants, and that officers seized weapons and cash during the operation."),
      ("Tren de Aragua began in a prison in Venezuela's Aragua state and has spread across "
      "Latin America over the past decade, according to regional police agencies.")]),
    ("/elpitazo/captura-chile.html", "A", "El Pitazo", "es",
     "Capturan en Chile a un cabecilla del Tren de Aragua",
     [("La policía chilena capturó este martes en Santiago a un cabecilla del Tren de Aragua, "
      "informó la Fiscalía Nacional de Chile en un comunicado."),
      ("El detenido, de nacionalidad venezolana, era buscado en tres países por extorsión, "
      "secuestro y trata de personas, según las autoridades chilenas."),
      ("La operación contó con el apoyo de las policías de Perú y Colombia, y los fiscales "
      "anunciaron que habrá más detenciones en los próximos días.")]),
    ("/elpitazo/quien-es.html", "A", "El Pitazo", "es",
     "Quién es el líder del Tren de Aragua detenido en Santiago",
     [("El hombre detenido en Santiago comenzó su carrera delictiva en la cárcel de Tocorón, "
      "donde nació el Tren de Aragua, según investigaciones de la prensa venezolana."),
      ("Durante años dirigió desde Chile el cobro de extorsiones a comerciantes y el "
      "traslado de migrantes por la frontera norte del país."),
      ("Su captura deja un vacío en la estructura de la banda, dicen expertos en seguridad, "
      "que advierten sobre posibles disputas internas por el control.")]),
    ("/efectococuyo/chile-detencion.html", "A", "Efecto Cocuyo", "es",
     "Chile detiene a presunto jefe del Tren de Aragua tras operativo internacional",
     [("Las autoridades de Chile detuvieron al presunto jefe de una célula del Tren de Aragua "
      "tras un operativo internacional coordinado con Perú y Colombia."),
      ("El ministro del Interior chileno calificó la detención como el golpe más importante "
      "contra la organización criminal venezolana en territorio chileno."),
      ("Organizaciones de migrantes venezolanos pidieron no estigmatizar a la comunidad por "
      "los delitos de la banda, que opera en varios países de la región.")]),
    ("/miamiherald/boat-strike.html", "B", "Miami Herald", "en",
     "US military strikes suspected Tren de Aragua drug boat in the Caribbean",
     [("The US military struck a boat it said was carrying drugs for the Tren de Aragua gang "
      "in the southern Caribbean on Monday, killing everyone aboard, officials said."),
      ("The Pentagon released a short video of the strike and said the vessel had left the "
      "coast of Venezuela hours earlier, without offering further evidence."),
      ("Legal experts questioned the basis for the strikes, the latest in a campaign that "
      "has drawn criticism from governments in the region.")]),
    ("/bbc/caribbean-strike.html", "B", "BBC News", "en",
     "Another deadly US strike on a boat off Venezuela, linked to Tren de Aragua",
     [("Another boat off the coast of Venezuela has been destroyed by a US strike, the "
      "Pentagon said, describing its crew as members of the Tren de Aragua gang."),
      ("Caracas condemned the attack as an extrajudicial killing, while Washington said the "
      "campaign would continue until drug trafficking routes were closed."),
      ("The strikes have raised tensions in the region and prompted questions in Congress "
      "about the legal authority the administration is relying on.")]),
]
LATER = [
    ("/folha/tren-de-aragua-chile.html", "A", "Folha de S.Paulo", "pt",
     "Polícia do Chile prende chefe do Tren de Aragua em Santiago",
     [("A polícia do Chile prendeu nesta terça-feira em Santiago um dos chefes da facção "
      "venezuelana Tren de Aragua, segundo a promotoria chilena."),
      ("O detido era procurado em três países por extorsão, sequestro e tráfico de pessoas, "
      "e a operação contou com a ajuda das polícias do Peru e da Colômbia."),
      ("Especialistas afirmam que o Tren de Aragua também tem presença no norte do Brasil, "
      "especialmente em Roraima, na fronteira com a Venezuela.")]),
    ("/guardian/chile-arrest-analysis.html", "A", "The Guardian", "en",
     "Tren de Aragua arrest in Chile tests Latin America's answer to a roaming gang",
     [("The arrest in Santiago of a man described as a leader of the Tren de Aragua is a test "
      "of whether regional police cooperation can contain a gang that crosses borders."),
      ("Analysts say the group adapts quickly, replacing detained leaders and shifting its "
      "business from extortion to smuggling as pressure rises."),
      ("Chile's government hopes the case will show that cross-border investigations work, "
      "after years of criticism over rising crime in the north.")]),
]
EVENT_A_OUTLETS = ("Reuters", "Associated Press", "El Pitazo", "Efecto Cocuyo")
EVENT_B_OUTLETS = ("Miami Herald", "BBC News")


def _page(outlet: str, lang: str, title: str, paragraphs: list[str], published: datetime,
          ) -> bytes:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    stamp = published.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title} | {outlet}</title>
<meta property="og:site_name" content="{outlet}">
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="{stamp}">
</head><body><header><nav><a href="/">Home</a> | <a href="/world">World</a></nav></header>
<main><article><h1>{title}</h1>
<p class="byline"><time datetime="{stamp}">{stamp}</time></p>
{body}
</article></main><footer><p>&copy; {outlet}</p></footer></body></html>""".encode()


def _feed(base_url: str, pieces: list[tuple], published: datetime) -> bytes:
    stamp = published.strftime("%a, %d %b %Y %H:%M:%S +0000")
    items = "".join(
        f"<item><title>{title}</title><link>{base_url}{path}</link><guid>{base_url}{path}</guid>"
        f"<pubDate>{stamp}</pubDate></item>" for path, _, _, _, title, _ in pieces)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Storm wire</title><link>{base_url}/</link><description>x</description>"
            f"{items}</channel></rss>").encode()


class Site:
    """A loopback news site whose feed lists the pieces published so far."""

    def __init__(self, server: LoopbackServer, published: datetime) -> None:
        self.server, self.published, self.pieces = server, published, []

    def publish(self, pieces: list[tuple]) -> None:
        for path, _, outlet, lang, title, paragraphs in pieces:
            self.server.routes[path] = (200, {"content-type": "text/html; charset=utf-8"},
                                        _page(outlet, lang, title, paragraphs, self.published))
        self.pieces += pieces
        self.server.routes["/feed.xml"] = (
            200, {"content-type": "application/rss+xml"},
            _feed(self.server.base_url, self.pieces, self.published))


def events_of(db_url: str) -> dict[str, int]:
    """The event the cycle put each happening's pieces in: one event per happening, and
    different happenings in different events (asserted)."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("""SELECT a.url, st.event_id FROM articles a
                               JOIN stories st ON st.id = a.story_id""").fetchall()
    found: dict[str, set] = {}
    for url, event_id in rows:
        happening = next(event for path, event, *_ in PIECES + LATER if url.endswith(path))
        found.setdefault(happening, set()).add(event_id)
    assert all(len(ids) == 1 and None not in ids for ids in found.values()), found
    events = {happening: ids.pop() for happening, ids in found.items()}
    assert len(set(events.values())) == len(events), events
    return events


@pytest.fixture
def storm(settings, db_url, tmp_path: Path):
    now = datetime.now(UTC)
    with LoopbackServer() as server, SmtpServer() as smtp:
        site = Site(server, published=now - timedelta(minutes=13))
        sources_file = tmp_path / "sources.toml"
        sources_file.write_text(f'[[sources]]\nname = "storm"\nurl = "{server.url("/feed.xml")}"\n')
        with psycopg.connect(db_url, autocommit=True) as conn:
            # Joined a day ago, and three minutes ago: after the pieces were published
            # (13 minutes ago), before newsmon first saw them (now).
            add_subscriber_row(conn, "ana@example.org", name="Ana", created_at=now - timedelta(days=1))
            add_subscriber_row(conn, "late@example.org", created_at=now - timedelta(minutes=3))
        # `alerts send` with no batch wait: the cycle's alerts are all due at the next pass.
        cli_settings = smtp.configure(settings.replace(database_url=db_url,
                                                       alert_batch_minutes=0))
        yield site, load_sources_file(sources_file), cli_settings, smtp


def _send(settings) -> dict:
    result = CliRunner().invoke(alerts, ["send", "--json"], obj=settings,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def _to(smtp: SmtpServer, email: str) -> list[EmailMessage]:
    return [m.message for m in smtp.messages if m.rcpt_tos == (email,)]


def _plain(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def test_the_storm_makes_one_email_then_one_update_and_reruns_send_nothing(
        storm, db_url) -> None:
    site, sources, settings, smtp = storm

    site.publish(PIECES)
    first_cycle = run_cycle(settings, sources=sources, db_url=db_url)
    first_send = _send(settings)

    assert first_cycle.new_articles == len(PIECES), first_cycle.errors
    assert set(events_of(db_url)) == {"A", "B"}  # the six pieces in one event, two in another
    (first,) = _to(smtp, "ana@example.org")  # one email for both events, not eight
    text = _plain(first)
    html = first.get_body(("html",)).get_content()
    assert first_send["emails"] == 2  # Ana's and the late joiner's
    for outlet in EVENT_A_OUTLETS + EVENT_B_OUTLETS:
        assert outlet in text and outlet in html
    # Each event once: its headline appears once in the text, and the Spanish pieces are named.
    headlines = [title for _, _, _, _, title, _ in PIECES if title in text]
    assert len(headlines) == 2 and all(text.count(h) == 1 for h in headlines)
    assert "English, Spanish" in text
    assert str(first["Subject"]).startswith("[venezuela] ") and \
        str(first["Subject"]).endswith(" (and 1 more)")

    # A cycle later: two more pieces on the first event, one in Portuguese.
    site.publish(LATER)
    second_cycle = run_cycle(settings, sources=sources, db_url=db_url)
    second_send = _send(settings)

    assert second_cycle.new_articles == len(LATER), second_cycle.errors
    (update,) = _to(smtp, "ana@example.org")[1:]
    assert str(update["Subject"]).startswith("[venezuela] Update: ")
    body = _plain(update)
    assert "UPDATE: first Portuguese coverage: Folha de S.Paulo" in body
    for outlet in EVENT_A_OUTLETS + ("Folha de S.Paulo", "The Guardian"):
        assert outlet in body
    assert not any(outlet in body for outlet in EVENT_B_OUTLETS)  # only the event that grew
    assert second_send["emails"] == 2

    # Re-runs: the same feed again, and sending again, add nothing.
    again = run_cycle(settings, sources=sources, db_url=db_url)
    third_send = _send(settings)
    assert again.new_articles == 0
    assert (third_send["sent"], third_send["emails"]) == (0, 0)
    assert len(smtp.messages) == 4
    events = events_of(db_url)  # the later pieces joined event A
    with psycopg.connect(db_url) as conn:
        kinds = conn.execute(
            """SELECT s.email, al.kind, al.event_id, al.status FROM alerts al
               JOIN subscribers s ON s.id = al.subscriber_id ORDER BY s.email, al.id""").fetchall()
    assert kinds == [
        ("ana@example.org", "first", events["A"], "sent"),
        ("ana@example.org", "first", events["B"], "sent"),
        ("ana@example.org", "update", events["A"], "sent"),
        ("late@example.org", "first", events["A"], "sent"),
        ("late@example.org", "first", events["B"], "sent"),
        ("late@example.org", "update", events["A"], "sent"),
    ]


def test_a_subscriber_who_joined_after_publication_but_before_first_sight_is_alerted(
        storm, db_url) -> None:
    site, sources, settings, smtp = storm

    site.publish(PIECES[:1])  # published 13 minutes ago; the subscriber joined 3 minutes ago
    run_cycle(settings, sources=sources, db_url=db_url)
    _send(settings)

    (email,) = _to(smtp, "late@example.org")
    assert PIECES[0][4] in str(email["Subject"])
