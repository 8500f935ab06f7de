"""Each disambiguation rule of the shipped `venezuela` watchlist, in English and Spanish."""

from __future__ import annotations

import pytest

from pipeline.match import load_watchlist, match_article


@pytest.fixture(scope="module")
def wl():
    return load_watchlist("venezuela")


def entities(wl, text: str, *, title: str = "", lang: str | None = None) -> set[str]:
    verdict = match_article(wl, title=title, text=text, lang=lang)
    return {m.entity_id for m in verdict.entities}


def relevant(wl, title: str, text: str, lang: str | None = None) -> bool:
    return match_article(wl, title=title, text=text, lang=lang).relevant


# -- "maduro" is ripe, a cigar wrapper, fried plantains and other people's surname -------

@pytest.mark.parametrize("lang, text", [
    ("es", "Un aguacate maduro cede ligeramente al presionarlo con el pulgar."),
    ("es", "Maduro, dulce y jugoso: así llega el mango a los mercados."),
    ("es", "Sirva los plátanos maduros con queso rallado."),
    ("en", "A good maduro wrapper gives the cigar its dark color."),
    ("en", "Maduros are ripe plantains fried until caramelized."),
    ("en", "The park is named after George Maduro, a law student from Curaçao."),
    ("es", "El expresidente hondureño Ricardo Maduro visitó la feria."),
])
def test_maduro_that_is_not_the_president(wl, lang, text):
    assert "nicolas_maduro" not in entities(wl, text, lang=lang)


@pytest.mark.parametrize("lang, text", [
    ("es", "Las sanciones golpean al régimen de Maduro, según analistas."),
    ("es", "El gobierno de maduro respondió a las sanciones."),  # lower case, beside a role
    ("en", "Washington says Maduro must step down."),  # capitalised mid-sentence
    ("en", "Maduro called on Venezuelans to join the militia."),  # sentence start + cue
    ("en", "Nicolas Maduro spoke in Caracas."),  # full name, no accent
])
def test_maduro_the_president(wl, lang, text):
    assert "nicolas_maduro" in entities(wl, text, lang=lang)


def test_a_title_case_headline_does_not_prove_a_name_but_the_body_can(wl):
    assert "nicolas_maduro" not in entities(wl, "", title="How To Pick A Ripe Maduro Plantain")
    found = entities(wl, "Venezuelan President Nicolás Maduro spoke on Monday.",
                     title="Maduro Digs In As Pressure Mounts", lang="en")
    assert "nicolas_maduro" in found


# -- "cabello" is hair -------------------------------------------------------------------

@pytest.mark.parametrize("lang, text", [
    ("es", "Cabello seco y quebradizo: los dermatólogos recomiendan champú sin sulfatos."),
    ("es", "La caída del cabello aumenta en otoño."),
    ("en", "Singer Camila Cabello announced a world tour."),
])
def test_cabello_that_is_not_the_minister(wl, lang, text):
    assert "diosdado_cabello" not in entities(wl, text, lang=lang)


@pytest.mark.parametrize("lang, text", [
    ("es", "El ministro Cabello anunció nuevas detenciones."),
    ("en", "Interior Minister Diosdado Cabello said the plot was foiled. Cabello gave no proof."),
])
def test_cabello_the_minister(wl, lang, text):
    assert "diosdado_cabello" in entities(wl, text, lang=lang)


# -- "Aragua" alone is the state; the gang needs its full name or a cue --------------------

@pytest.mark.parametrize("lang, text", [
    ("es", "Las playas de Choroní, en el estado Aragua, reciben turistas."),
    ("en", "Cacao from Chuao, a village in Aragua state, won a prize."),
])
def test_aragua_alone_is_the_state(wl, lang, text):
    found = entities(wl, text, lang=lang)
    assert "aragua" in found and "tren_de_aragua" not in found


@pytest.mark.parametrize("lang, text", [
    ("es", "Detienen a 14 integrantes del Tren de Aragua en Santiago."),
    ("en", "Police arrested members of the Tren de Aragua gang."),
])
def test_the_gang_is_not_also_counted_as_the_state(wl, lang, text):
    found = entities(wl, text, lang=lang)
    assert "tren_de_aragua" in found and "aragua" not in found


def test_football_club_and_baseball_team_are_not_the_state(wl):
    assert "aragua" not in entities(wl, "El Aragua FC y los Tigres de Aragua ganaron.", lang="es")


# -- "TdA", "TDA", "Tren", "la banda transnacional" ------------------------------------------

@pytest.mark.parametrize("lang, text, expected", [
    ("en", "Police arrested six men described as members of TdA.", True),
    ("es", "Desarticulan una célula del TdA en Guayaquil.", True),
    ("es", "Capturan a tres cabecillas del TDA acusados de extorsión.", True),  # capitals + cue
    ("es", "El trastorno por déficit de atención (TDA) afecta a muchos niños.", False),
    ("en", "The Texas Department of Agriculture (TDA) issued a new rule.", False),
    ("en", "the tda of the project was updated", False),  # lower case is never the gang
])
def test_the_abbreviation(wl, lang, text, expected):
    assert ("tren_de_aragua" in entities(wl, text, lang=lang)) is expected


@pytest.mark.parametrize("lang, text, expected", [
    ("es", "Capturan a diez presuntos miembros del Tren en Bogotá.", True),
    ("es", "El tren entre Caracas y Charallave reanudó el servicio.", False),
    ("es", "El Tren Maya comenzará a transportar carga.", False),
    ("es", "El Tren llegó tarde a la estación de cercanías por una avería del maquinista.", False),
])
def test_tren_alone(wl, lang, text, expected):
    assert ("tren_de_aragua" in entities(wl, text, lang=lang)) is expected


@pytest.mark.parametrize("lang, text, expected", [
    ("es", "Cae un cabecilla de la banda transnacional surgida en la cárcel de Tocorón.", True),
    ("es", "Juicio contra la megabanda de origen venezolano entra en su fase final.", True),
    ("es", "Desarticulan una banda transnacional que robaba camionetas en Buenos Aires.", False),
    ("en", "The MS-13, a transnational gang with roots in El Salvador, was targeted.", False),
])
def test_descriptions_of_the_gang_need_the_article_to_tie_them_to_it(wl, lang, text, expected):
    assert ("tren_de_aragua" in entities(wl, text, lang=lang)) is expected


# -- other ambiguous names --------------------------------------------------------------------

@pytest.mark.parametrize("lang, text, expected", [
    ("en", "Manny Machado lined a walk-off single as the Padres won.", False),
    ("es", "Soria prepara homenajes al poeta Antonio Machado. Machado murió en 1939.", False),
    ("en", "Opposition leader Machado said the Nobel prize belonged to Venezuelans.", True),
    ("es", "La líder opositora Machado pidió elecciones libres.", True),
])
def test_machado(wl, lang, text, expected):
    assert ("maria_corina_machado" in entities(wl, text, lang=lang)) is expected


@pytest.mark.parametrize("lang, text, expected", [
    ("en", "Start your visit on the clifftop parks of Miraflores, in Lima.", False),
    ("es", "Las esclusas de Miraflores del Canal de Panamá recibieron un buque récord.", False),
    ("es", "El mandatario habló desde Miraflores y acusó a Washington.", True),
    ("en", "Officials in Miraflores accused the government's critics of treason.", True),
])
def test_miraflores(wl, lang, text, expected):
    assert ("vz_government" in entities(wl, text, lang=lang)) is expected


@pytest.mark.parametrize("lang, text, expected", [
    ("es", "La película El Padrino regresa a los cines.", False),
    ("es", "El ministro de Defensa, el general Padrino, ordenó el despliegue.", True),
    ("en", "Defense Minister Padrino ordered troops to the coast.", True),
])
def test_padrino(wl, lang, text, expected):
    assert ("vladimir_padrino" in entities(wl, text, lang=lang)) is expected


@pytest.mark.parametrize("lang, text, expected", [
    ("es", "El atleta Jorge Rodríguez batió el récord de maratón.", False),
    ("es", "El presidente de la Asamblea Nacional, Jorge Rodríguez, anunció una ley.", True),
    ("en", "Jorge Rodríguez, head of the National Assembly, led the talks.", True),
])
def test_jorge_rodriguez(wl, lang, text, expected):
    assert ("jorge_rodriguez" in entities(wl, text, lang=lang)) is expected


# -- boats: the US campaign, not Spain's hashish runners or the Red Sea -----------------------

@pytest.mark.parametrize("lang, title, text, expected", [
    ("es", "Otro ataque contra una narcolancha en el Caribe",
     "Tres personas murieron, informó el Pentágono.", True),
    ("es", "La Guardia Civil intercepta tres narcolanchas en el Guadalquivir",
     "Iban cargadas con hachís a la altura de Sanlúcar.", False),
    ("en", "US strikes another drug boat in the Caribbean",
     "Three people aboard were killed, the Pentagon said.", True),
    ("en", "US helicopters sink Houthi boats in the Red Sea",
     "The boats had fired on a container ship, the military said.", False),
    ("en", "Spanish police seize narco-boats near Algeciras",
     "The speedboats were loaded with hashish.", False),
])
def test_boat_strikes(wl, lang, title, text, expected):
    assert relevant(wl, title, text, lang) is expected


# -- contexts: passing mentions in sports, food, tourism and oil-price stories ----------------

@pytest.mark.parametrize("lang, title, text", [
    ("en", "Altuve homers twice as Astros win",
     "The Venezuelan second baseman has 20 home runs this season for Houston."),
    ("es", "Las areperas venezolanas conquistan Madrid",
     "La reina pepiada es la arepa más pedida; el secreto está en la harina y el queso."),
    ("es", "Temporada alta en las playas de Aragua",
     "Las posadas de Choroní y los turistas llenan las playas del estado Aragua, en Venezuela."),
    ("en", "Oil climbs as OPEC+ holds output",
     "Brent rose to $64 a barrel. Traders weighed lower exports from Venezuela and sanctions."),
])
def test_passing_mentions_in_other_topics_are_not_relevant(wl, lang, title, text):
    assert not relevant(wl, title, text, lang)


@pytest.mark.parametrize("lang, title, text", [
    ("en", "Caracas expels diplomats after disputed vote",
     "The foreign ministry said the governments were following orders from Washington."),
    ("es", "El chavismo arrasa en unas regionales boicoteadas",
     "La oposición llamó a la abstención y denunció persecución."),
])
def test_the_subject_itself_is_relevant_without_the_obvious_words(wl, lang, title, text):
    assert relevant(wl, title, text, lang)
