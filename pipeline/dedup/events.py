"""Events: which stories report the same real-world happening, and why (pure functions).

A story folds copies of one text; an event joins the different texts (other outlets, other
languages, follow-ups within days) that report one happening. The store
(``pipeline/store/events.py``) calls ``story_features`` once per new story, looks up the
events active near its time that share a distinctive key (``lookup_keys``), and lets
``choose_event`` pick one with ``judge``; the verdict's ``reason`` is stored with the story.

Features are language-independent where they can be, so English and Spanish coverage meet:

* the watchlist's entity ids (the matcher already maps "Comando Sur" and "Southern Command"
  to one id);
* places from a small gazetteer of Venezuelan, Caribbean and Latin American places, with
  their English and Spanish spellings ("Güiria", "Guiria"; "Bogota", "Bogotá");
* numbers with their unit normalised across languages ("six dead", "seis muertos",
  "6 fallecidos" are all ``dead:6``);
* dates mentioned, resolved against the publication time ("on Tuesday", "el martes",
  "ayer", "14 de octubre"): two strikes on different days mention different dates;
* event terms through a bilingual lexicon (strike/ataque/bombardeo, arrest/detención);
* names written capitalised mid-sentence (people, ships, towns the gazetteer lacks), and
  title and lead words with accents folded (same-language overlap, shared cognates).

``judge`` weighs the shared evidence, subtracts what contradicts (other dates, other
places, another kind of happening in the headline, the days between), and joins only with
a distinctive signal beyond the core entities every article shares (Venezuela, Maduro).
Weights and threshold were tuned on the tune half of tests/data/events_dev.jsonl and
checked on the other half (docs/decisions.md, "Events (issue 21)").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pipeline.match.scanner import fold
from pipeline.models import record

# --- parameters (tuned; docs/decisions.md "Events (issue 21)") -------------------------------

WINDOW = timedelta(days=4)  # an event takes stories published within this of its own span
JOIN_THRESHOLD = 4.0
CANDIDATE_LIMIT = 40  # events scored per story, most shared keys first

W_ENTITY, W_COMMON_ENTITY, CAP_ENTITY = 1.0, 0.2, 2.5
W_PLACE, W_BROAD_PLACE, CAP_PLACE = 2.0, 0.25, 4.0
W_NUMBER, W_SMALL_NUMBER, CAP_NUMBER = 2.0, 1.0, 4.0
W_DATE, W_TERM, CAP_TERM = 1.5, 0.5, 2.5
W_NAME, CAP_NAME = 1.0, 3.0
W_TOKENS = 5.0  # times the share of the story's title and lead words the event has
P_OTHER_DATE, P_OTHER_PLACE, P_OTHER_KIND, P_OTHER_NUMBER = 3.0, 1.5, 1.5, 1.0
P_PER_DAY = 0.5  # per day between the story and the event's span
TOKEN_DISTINCTIVE = 0.34  # a story sharing this share of its words with the event is distinctive
PROFILE_TOP = 40  # values kept per feature kind in an event's profile

LEAD_CHARS = 600  # title plus this much text gives the words compared
TEXT_CHARS = 1500  # the lead says what happened; later paragraphs add background (earlier events)

# Entities nearly every article of the watchlist names: shared, they say little.
COMMON_ENTITIES = frozenset({
    "venezuela", "nicolas_maduro", "vz_government", "chavismo", "caracas", "us_boat_strikes",
    "southern_spear", "tren_de_aragua", "venezuelan_gangs",
})

# --- places ------------------------------------------------------------------------------------

# id -> spellings (folded by the lookup). Broad ones are the setting of most coverage, so
# they weigh little and never contradict; specific ones locate a happening.
_BROAD_PLACES: dict[str, tuple[str, ...]] = {
    "venezuela": ("venezuela", "venezuelan", "venezuelans", "venezolano", "venezolana",
                  "venezolanos", "venezolanas"),
    "united_states": ("united states", "u.s.", "estados unidos", "ee.uu.", "ee. uu.",
                      "eeuu", "estadounidense", "estadounidenses"),
    "caribbean": ("caribbean", "caribe", "mar caribe", "caribbean sea"),
    "pacific": ("pacific", "pacifico", "eastern pacific", "pacifico oriental"),
    # the US government, as the coverage names it ("Washington said")
    "washington": ("washington",),
    "latin_america": ("latin america", "america latina", "latinoamerica", "south america",
                      "sudamerica", "suramerica"),
}
_PLACES: dict[str, tuple[str, ...]] = {
    # Venezuela: states, cities, ports, prisons
    "caracas": ("caracas",),
    "la_guaira": ("la guaira", "maiquetia", "simon bolivar international airport",
                  "aeropuerto internacional simon bolivar"),
    "zulia": ("zulia",), "maracaibo": ("maracaibo", "lake maracaibo", "lago de maracaibo"),
    "tachira": ("tachira",), "san_cristobal": ("san cristobal",), "apure": ("apure",),
    "sucre": ("sucre state", "estado sucre"), "guiria": ("guiria",),
    "carupano": ("carupano",), "cumana": ("cumana",), "paria": ("paria",),
    "falcon": ("falcon state", "estado falcon"), "punto_fijo": ("punto fijo",),
    "paraguana": ("paraguana",), "coro": ("coro",),
    "carabobo": ("carabobo",), "valencia_vz": ("valencia",), "puerto_cabello": ("puerto cabello",),
    "aragua": ("aragua state", "estado aragua"), "maracay": ("maracay",),
    "tocoron": ("tocoron",), "lara": ("lara state", "estado lara"),
    "barquisimeto": ("barquisimeto",), "merida": ("merida",), "trujillo": ("trujillo",),
    "barinas": ("barinas",), "portuguesa": ("portuguesa",), "guarico": ("guarico",),
    "anzoategui": ("anzoategui",), "barcelona_vz": ("puerto la cruz",),
    "monagas": ("monagas",), "maturin": ("maturin",), "delta_amacuro": ("delta amacuro",),
    "tucupita": ("tucupita",), "bolivar_state": ("bolivar state", "estado bolivar"),
    "ciudad_guayana": ("ciudad guayana", "puerto ordaz"), "ciudad_bolivar": ("ciudad bolivar",),
    "amazonas_vz": ("amazonas",), "nueva_esparta": ("nueva esparta", "margarita island",
                                                   "isla de margarita", "margarita"),
    "miranda": ("miranda state", "estado miranda"), "petare": ("petare",),
    "el_helicoide": ("helicoide",), "rodeo": ("rodeo i", "el rodeo"),
    "mene_grande": ("mene grande",), "orinoco": ("orinoco",), "cuyuni": ("cuyuni",),
    "essequibo": ("essequibo", "esequibo"), "los_roques": ("los roques",),
    "la_orchila": ("la orchila",), "fuerte_tiuna": ("fuerte tiuna",),
    "miraflores": ("miraflores",),
    # neighbours and the Caribbean
    "colombia": ("colombia", "colombian", "colombiano", "colombiana", "colombianos"),
    "bogota": ("bogota",), "cucuta": ("cucuta",), "guajira": ("guajira",),
    "guyana": ("guyana", "guyanese", "guyanes", "guyanesa", "guyaneses"),
    "georgetown": ("georgetown",),
    "trinidad": ("trinidad", "tobago", "trinidadian", "trinitense"),
    "aruba": ("aruba",), "curacao": ("curacao",), "bonaire": ("bonaire",),
    "puerto_rico": ("puerto rico", "puerto rican", "puertorriqueno", "roosevelt roads"),
    "dominican_republic": ("dominican republic", "republica dominicana", "santo domingo"),
    "cuba": ("cuba", "cuban", "cubano", "havana", "la habana"), "haiti": ("haiti",),
    "jamaica": ("jamaica",), "grenada": ("grenada", "granada"),
    "panama": ("panama",), "costa_rica": ("costa rica",), "mexico": ("mexico", "mexican"),
    "ecuador": ("ecuador", "ecuadorian", "ecuatoriano"), "peru": ("peru", "peruvian", "lima"),
    "chile": ("chile", "chilean", "chileno", "chilena"), "santiago": ("santiago",),
    "argentina": ("argentina", "buenos aires"), "brazil": ("brazil", "brasil", "roraima",
                                                          "pacaraima", "boa vista"),
    "el_salvador": ("el salvador", "salvadoran", "salvadoreno", "cecot"),
    "honduras": ("honduras",), "nicaragua": ("nicaragua",), "guatemala": ("guatemala",),
    "spain": ("spain", "espana", "madrid"), "russia": ("russia", "rusia", "moscow", "moscu"),
    "china": ("china", "beijing", "pekin"), "iran": ("iran",),
    "norway": ("norway", "noruega", "oslo"),
    # the United States' places in this coverage
    "florida": ("florida", "miami", "doral"),
    "texas": ("texas", "el paso", "houston", "harlingen"),
    "new_york": ("new york", "nueva york"), "arizona": ("arizona", "phoenix", "mesa"),
    "louisiana": ("louisiana", "luisiana", "alexandria"), "guantanamo": ("guantanamo",),
    "chicago": ("chicago",), "denver": ("denver", "aurora", "colorado"),
}
_TERM_WORD = re.compile(r"\d+|[^\W\d_]+")  # what place and concept lookups compare


def _key(spelling: str) -> str:
    """A spelling as the lookups see text: folded words joined by one space ("ee. uu." and
    "EE.UU." are both "ee uu")."""
    return " ".join(_TERM_WORD.findall(fold(spelling)))


_PLACE_IDS: dict[str, str] = {
    **{_key(spelling): pid for pid, names in _BROAD_PLACES.items() for spelling in names},
    **{_key(spelling): pid for pid, names in _PLACES.items() for spelling in names},
}
BROAD_PLACES = frozenset(_BROAD_PLACES)
_BROAD_WORDS = frozenset(w for names in _BROAD_PLACES.values() for n in names
                         for w in _key(n).split())

# --- event terms: concept -> English and Spanish words ("*": any ending) -----------------------

_CONCEPTS: dict[str, tuple[str, ...]] = {
    "strike": ("strike*", "struck", "airstrike*", "bomb*", "attack*", "missile*", "ataque*",
               "atac*", "bombarde*", "misil*"),
    "boat": ("boat*", "vessel*", "speedboat*", "lancha*", "narcolancha*", "embarcacion*",
             "bote*"),
    "dock": ("dock*", "pier*", "port", "ports", "wharf*", "jetty", "harbor*", "harbour*",
             "muelle*", "puerto", "embarcadero*", "atracadero*"),
    "arrest": ("arrest*", "detain*", "detention*", "captur*", "apprehend*", "custody", "raid*",
               "detenc*", "detenid*", "detien*", "detuv*", "arrestad*", "aprehend*", "allanamiento*",
               "redada*", "operativo*"),
    "release": ("releas*", "freed", "excarcel*", "liberad*", "liberacion*", "liberar*",
                "liberaron", "libero"),
    "prison": ("prisoner*", "inmate*", "jail*", "prison*", "preso*", "presa*", "prision*",
               "carcel*", "recluso*", "reos"),
    "tanker": ("tanker*", "supertanker*", "petrolero*", "tanquero*", "buque tanque*"),
    "seize": ("seiz*", "confiscat*", "intercept*", "incaut*", "decomis*", "confisc*",
              "intercept*", "abord*", "boarded"),
    "oil": ("oil", "crude", "barrel*", "petroleo*", "crudo*", "barril*"),
    "deport": ("deport*", "repatriat*", "expel*", "repatri*", "expuls*", "retornad*",
               "returnee*"),
    "flight": ("flight*", "plane*", "airplane*", "vuelo*", "avion*", "aeronave*"),
    "migrant": ("migrant*", "immigrant*", "migrante*", "inmigrante*"),
    "blackout": ("blackout*", "outage*", "apagon*", "electricity", "electricidad", "power grid",
                 "sin luz", "red electrica"),
    "earthquake": ("earthquake*", "quake*", "tremor*", "magnitude", "sismo*", "terremoto*",
                   "temblor*", "magnitud"),
    "election": ("election*", "ballot*", "eleccion*", "comicio*", "votacion*"),
    "protest": ("protest*", "demonstrat*", "protesta*", "manifestacion*", "manifestante*"),
    "sanction": ("sanction*", "sancion*"),
    "designation": ("designat*", "terrorist organization*", "terrorist group", "designa*",
                    "organizacion terrorista", "grupo terrorista"),
    "bounty": ("bounty", "reward*", "recompensa*"),
    "warship": ("warship*", "destroyer*", "aircraft carrier*", "carrier strike group",
                "fleet", "deploy*", "buque de guerra", "destructor*", "portaaviones",
                "flota*", "despleg*", "desplieg*", "buques de guerra"),
    "clash": ("clash*", "skirmish*", "firefight*", "gunfire", "shootout*", "ambush*",
              "enfrentamiento*", "escaramuza*", "tiroteo*", "emboscad*"),
    "swap": ("swap*", "exchange*", "canje*", "intercambio*"),
    "prize": ("nobel", "prize*", "laureate*", "premio*", "galardon*", "galardonad*"),
    "license": ("licen*",),
    "court": ("court*", "judge*", "ruling*", "trial*", "indict*", "tribunal*", "juez*", "jueza*",
              "fallo*", "juicio*", "imputad*", "sentenc*"),
    "death": ("dead", "kill*", "death*", "died", "fatalit*", "muert*", "fallec*", "asesin*",
              "mataron", "murieron", "murio"),
    "wound": ("wound*", "injur*", "herid*", "lesionad*"),
    "rescue": ("survivor*", "rescu*", "sobrevivient*", "supervivient*", "rescat*"),
    "troops": ("soldier*", "troop*", "marines", "soldado*", "tropa*", "efectivo*"),
    "condemn": ("condemn*", "denounc*", "conden*", "denunci*", "repudi*"),
    "piracy": ("pirac*", "pirate*", "pirate*", "pirateria*", "pirata*"),
    "talks": ("talks", "negotiat*", "dialog*", "negociacion*", "dialogo*", "conversacion*"),
    "visit": ("visit*", "visita*", "summit*", "cumbre*"),
    "fire": ("fire", "blaze*", "explosion*", "incendio*", "explosion*", "llamas"),
    "escape": ("escape*", "fled", "escaped", "fuga*", "fugad*", "evadi*"),
}
# The kinds of happening a headline names: a headline of another kind contradicts.
KINDS = frozenset({"strike", "arrest", "release", "seize", "deport", "blackout", "earthquake",
                   "election", "protest", "designation", "bounty", "warship", "clash", "swap",
                   "prize", "license", "court", "talks", "fire", "escape"})



class _Lexicon:
    """Words and phrases to ids, looked up word by word: exact spellings, stems ("*": any
    ending, at least 3 letters before it) and phrases of up to three words (a stem only as
    the last). Far cheaper than one regular expression of every alternative."""

    def __init__(self, entries: Mapping[str, Iterable[str]]) -> None:
        self.exact: dict[str, set[str]] = {}
        self.stems: dict[str, set[str]] = {}
        self.starters: set[str] = set()
        for ident, spellings in entries.items():
            for spelling in spellings:
                stem = spelling.endswith("*")
                key = _key(spelling.rstrip("*"))
                (self.stems if stem else self.exact).setdefault(key, set()).add(ident)
                if " " in key:
                    self.starters.add(key.split(" ", 1)[0])
        self.longest_stem = max((len(k) for k in self.stems), default=0)

    def find(self, words: list[str]) -> set[str]:
        found: set[str] = set()
        for i, word in enumerate(words):
            found |= self._lookup(word)
            if word in self.starters:
                for n in (2, 3):
                    found |= self._lookup(" ".join(words[i:i + n]))
        return found

    def _lookup(self, term: str) -> set[str]:
        found = set(self.exact.get(term, ()))
        for end in range(min(len(term), self.longest_stem), 2, -1):
            found |= self.stems.get(term[:end], set())
        return found


_CONCEPT_LEXICON = _Lexicon(_CONCEPTS)
_PLACE_LEXICON = _Lexicon({**_BROAD_PLACES, **_PLACES})

# --- numbers and their units -------------------------------------------------------------------

_UNITS: dict[str, tuple[str, ...]] = {
    "dead": ("dead", "killed", "killing", "deaths", "died", "fatalities", "bodies", "muertos",
             "muertas", "muerto", "fallecidos", "fallecieron", "murieron", "muertes",
             "asesinados", "cadaveres", "victimas", "victims", "perdieron"),
    # who was aboard or present: "six people", "seis tripulantes", "two occupants"
    "people": ("people", "persons", "personas", "individuals", "individuos", "crew",
               "crewmembers", "crewmen", "tripulantes", "occupants", "ocupantes", "men",
               "hombres", "women", "mujeres"),
    "survivors": ("survivors", "survivor", "sobrevivientes", "sobreviviente", "supervivientes"),
    "wounded": ("wounded", "injured", "heridos", "herido", "lesionados"),
    "boats": ("boats", "boat", "vessels", "vessel", "speedboats", "lanchas", "lancha",
              "embarcaciones", "embarcacion", "narcolanchas", "botes"),
    "arrested": ("arrested", "detained", "detainees", "arrests", "suspects", "detenidos",
                 "detenidas", "arrestados", "capturados", "aprehendidos", "sospechosos",
                 "detenciones", "capturas"),
    "prisoners": ("prisoners", "presos", "prisioneros", "reclusos", "detainees"),
    "released": ("released", "freed", "liberados", "excarcelados", "excarcelaciones",
                 "liberaciones"),
    "migrants": ("migrants", "deportees", "returnees", "passengers", "nationals", "migrantes",
                 "deportados", "repatriados", "pasajeros", "connacionales", "retornados"),
    "troops": ("soldiers", "troops", "marines", "sailors", "service members", "soldados",
               "militares", "efectivos", "tropas", "marinos", "uniformados"),
    "ships": ("warships", "ships", "destroyers", "buques", "destructores", "navios"),
    "tankers": ("tankers", "tanker", "petroleros", "petrolero"),
    "barrels": ("barrels", "barriles"),
    "tons": ("tons", "tonnes", "toneladas", "kilos", "kilograms", "kilogramos", "kg"),
    "states": ("states", "estados"),
    "americans": ("americans", "estadounidenses", "us citizens"),
    "flights": ("flights", "vuelos"),
    "years": ("years", "anos"),
    "dollars": ("dollars", "dolares", "usd"),
    "children": ("children", "minors", "ninos", "menores"),
}
_UNIT_OF: dict[str, str] = {w: unit for unit, words in _UNITS.items() for w in words}
_UNIT_BEFORE = {"magnitude": "magnitude", "magnitud": "magnitude", "$": "dollars",
                "us$": "dollars"}
# "killing six", "mató a seis", "murieron seis tripulantes": the count follows the verb.
_DEATH_VERBS = ("kill", "mato", "mataron", "asesino", "asesinaron", "murieron", "fallecieron",
                "died")
_EN_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "dozen": 12,
}
_ES_NUMBERS = {
    "un": 1, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
    "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13,
    "catorce": 14, "quince": 15, "dieciseis": 16, "diecisiete": 17, "dieciocho": 18,
    "diecinueve": 19, "veinte": 20, "veintiun": 21, "veintiuno": 21, "veintidos": 22,
    "veintitres": 23, "veinticuatro": 24, "veinticinco": 25, "veintiseis": 26,
    "veintisiete": 27, "veintiocho": 28, "veintinueve": 29, "treinta": 30, "cuarenta": 40,
    "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80, "noventa": 90,
    "cien": 100, "ciento": 100, "doscientos": 200, "trescientos": 300, "cuatrocientos": 400,
    "quinientos": 500, "seiscientos": 600, "setecientos": 700, "ochocientos": 800,
    "novecientos": 900, "docena": 12,
}
_NUMBER_WORDS = {**_EN_NUMBERS, **_ES_NUMBERS}
# "once" is eleven in Spanish and a common English word: a known language picks its own.
_NUMBER_WORDS_BY_LANG = {"en": _EN_NUMBERS, "es": _ES_NUMBERS}
_MULTIPLIERS = {"hundred": 100, "thousand": 1000, "mil": 1000, "million": 10**6,
                "millions": 10**6, "millon": 10**6, "millones": 10**6, "billion": 10**9}
_JOINERS = {"and", "y"}
_LARGEST_COUNT = 10**12

# --- dates -------------------------------------------------------------------------------------

_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6, "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4,
    "sabado": 5, "domingo": 6,
}
_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12, "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5,
    "junio": 6, "julio": 7, "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10,
    "noviembre": 11, "diciembre": 12,
}
_RELATIVE_DAYS = {"yesterday": -1, "ayer": -1, "anoche": -1, "today": 0, "hoy": 0,
                  "tonight": 0, "anteayer": -2}
_LAST_NIGHT = ("last", "night")

# --- names and words ---------------------------------------------------------------------------

_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:[.'’][^\W\d_]+)*")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_BARE_WORD = re.compile(r"[^\W\d_]+")
_STOPWORDS = _word_set("""
a about after against all also an and any are as at be been before being between both but by
can could did do does during each for from had has have he her his how if in into is it its
just more most new no not of on one or other our out over said says same she so some such
than that the their them then there these they this those through to under up us was we were
what when where which while who will with would you your yet again amid among near off per
el la los las un una unos unas y o u de del al a en por para con sin sobre entre hasta desde
que quien cual como cuando donde este esta estos estas ese esa esos esas es son fue fueron ha
han habia ser sido se su sus lo le les mas muy ya tambien pero sino segun tras ante durante
dijo dice afirmo aseguro informo indico senalo explico agrego hace tiene tienen otro otra otros
""")
# Capitalised words that name no particular happening: sentence furniture, titles, and the
# actors of nearly every article of this coverage.
_COMMON_NAMES = _word_set("""
the a an in on at for and but he she they it this that we el la los las un una en por para
con y de del mr ms mrs sr sra dr us u s ee uu eeuu mp ap
trump donald maduro nicolas hegseth pete rubio marco venezuela venezuelan venezuelans
venezolano venezolana venezolanos caracas washington estados unidos united states america
american americans pentagon pentagono casa blanca white house caribbean caribe defense defensa
department departamento secretary secretario government gobierno president presidente
southern command comando sur navy armada congress congreso senate senado state estado news
reuters efe afp associated press agencia truth social x telegram instagram facebook
""")


# --- features ----------------------------------------------------------------------------------


@record
class Features:
    """What one story (its first article) says about the happening it reports."""

    at: datetime  # when it was published (discovered when unknown)
    lang: str | None
    entities: frozenset[str] = frozenset()
    places: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()  # "dead:6"
    dates: frozenset[str] = frozenset()  # ISO dates mentioned, resolved
    terms: frozenset[str] = frozenset()  # concepts of the lexicon, whole text
    kinds: frozenset[str] = frozenset()  # kinds of happening the headline names
    names: frozenset[str] = frozenset()  # capitalised mid-sentence, folded
    tokens: frozenset[str] = frozenset()  # title and lead words, folded, cut to 6 letters


def story_features(*, title: str, text: str, lang: str | None, at: datetime,
                   entities: Iterable[str] = ()) -> Features:
    """The features of an article (a new story's first one); ``at`` is its publication
    time, ``entities`` the watchlist entity ids the matcher accepted in it."""
    title = title or ""
    body = (text or "")[:TEXT_CHARS]
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    folded_title, folded_body = fold(title), fold(body)
    both = f"{folded_title}\n{folded_body}"
    words = _TERM_WORD.findall(both)
    return Features(
        at=at, lang=lang,
        entities=frozenset(entities),
        places=frozenset(_PLACE_LEXICON.find(words)),
        numbers=frozenset(_numbers(both, _NUMBER_WORDS_BY_LANG.get(lang or "", _NUMBER_WORDS))),
        dates=frozenset(d.isoformat() for d in _dates(words, at.date())),
        terms=frozenset(_CONCEPT_LEXICON.find(words)),
        kinds=frozenset(_CONCEPT_LEXICON.find(_TERM_WORD.findall(folded_title))) & KINDS,
        names=frozenset(_names(body[:LEAD_CHARS * 2])),
        tokens=frozenset(_tokens(f"{folded_title}\n{folded_body[:LEAD_CHARS]}")),
    )


def _numbers(folded: str, number_words: Mapping[str, int]) -> set[str]:
    words = _WORD.findall(folded)
    found: set[str] = set()
    i = 0
    while i < len(words):
        value, end = _read_number(words, i, number_words)
        if value is None:
            i += 1
            continue
        is_year = 1900 <= value <= 2100 and words[i].isdecimal()
        if value <= _LARGEST_COUNT and not is_year:  # a long run of digits is no count either
            found.update(f"{unit}:{_fmt(value)}" for unit in _units_near(words, i, end, value))
        i = end
    return found


def _read_number(words: list[str], i: int,
                 number_words: Mapping[str, int]) -> tuple[float | None, int]:
    """The number starting at words[i] ("1,800", "1.8 million", "treinta y cinco",
    "one hundred eighty"), and the index after it."""
    word = words[i]
    if word[0].isdecimal():
        value = _parse_digits(word)
        j = i + 1
    elif word in number_words:
        value, j = 0, i
        while j < len(words):
            w = words[j]
            if w in number_words:
                value += number_words[w]
            elif w == "hundred" and value:
                value *= 100
            elif not (w in _JOINERS and value and j + 1 < len(words)
                      and words[j + 1] in number_words):
                break
            j += 1
    else:
        return None, i + 1
    while j < len(words) and words[j] in _MULTIPLIERS:
        value *= _MULTIPLIERS[words[j]]
        j += 1
    return value, j


def _parse_digits(word: str) -> float:
    # "1,800" and "1.800" are thousands; "1.8" and "1,8" decimals.
    parts = re.split(r"[.,]", word)
    if len(parts) > 1 and all(len(p) == 3 for p in parts[1:]):
        return float("".join(parts))
    if len(parts) == 2:
        return float(f"{parts[0]}.{parts[1]}")
    return float(parts[0])


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _units_near(words: list[str], start: int, end: int, value: float) -> set[str]:
    # "one" and "un" are mostly articles: only a unit right after them makes them a count.
    after = words[end:end + (1 if value == 1 else 4)]
    units = set()
    for w in after:
        if w[0].isdecimal() or w in _NUMBER_WORDS:
            break  # the next number's unit is its own
        if w in _UNIT_OF:
            units.add(_UNIT_OF[w])
    for w in words[max(0, start - 3):start]:
        if w in _UNIT_BEFORE:
            units.add(_UNIT_BEFORE[w])
        if w.startswith(_DEATH_VERBS):
            units.add("dead")
    return units


def _dates(words: list[str], published: date) -> set[date]:
    """Dates the words mention: weekdays (the latest on or before publication), "ayer",
    "yesterday", "last night", "18 de noviembre", "Nov. 18"."""
    found = set()
    for i, word in enumerate(words):
        if word in _WEEKDAYS:
            back = (published.weekday() - _WEEKDAYS[word]) % 7
            found.add(published - timedelta(days=back))
        elif word in _RELATIVE_DAYS:
            found.add(published + timedelta(days=_RELATIVE_DAYS[word]))
        elif tuple(words[i:i + 2]) == _LAST_NIGHT:
            found.add(published - timedelta(days=1))
        elif word in _MONTHS and i + 1 < len(words) and _is_day(words[i + 1]):
            found.add(_nearest_past(published, _MONTHS[word], int(words[i + 1])))
        elif _is_day(word):
            after = words[i + 2] if i + 2 < len(words) and words[i + 1] == "de" else (
                words[i + 1] if i + 1 < len(words) else "")
            if after in _MONTHS:
                found.add(_nearest_past(published, _MONTHS[after], int(word)))
    found.discard(None)
    return found


def _is_day(word: str) -> bool:
    return word.isdecimal() and len(word) <= 2


def _nearest_past(published: date, month: int, day: int) -> date | None:
    """The date with that month and day nearest before (or just after) publication."""
    for year in (published.year, published.year - 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate <= published + timedelta(days=7):
            return candidate
    return None


# An opening: sentence punctuation, a line break, quotes or brackets; not the dot after an
# initial ("Gerald R. Ford").
_SENTENCE_END = re.compile(r"(?:(?<![\s.][A-Z])[.!?:;]|[\n\"“”«»()])\s*$")


def _names(text: str) -> set[str]:
    names = set()
    for m in _WORD.finditer(text):
        word = m.group(0)
        if not word[0].isupper() or len(word) < 3 or word.isupper() and len(word) < 4:
            continue
        before = text[max(0, m.start() - 4):m.start()]
        if m.start() == 0 or _SENTENCE_END.search(before):
            continue  # capitalised because it opens a sentence
        key = re.sub(r"['’]s$", "", fold(word))
        if key in _COMMON_NAMES or key in _STOPWORDS or key in _WEEKDAYS or key in _MONTHS \
                or key in _PLACE_IDS or key in _BROAD_WORDS:
            continue
        names.add(key)
    return names


def _tokens(folded: str) -> set[str]:
    # Words of every article of the coverage (Maduro, Venezuela) would make any two alike.
    return {w[:6] for w in _BARE_WORD.findall(folded)
            if len(w) >= 3 and w not in _STOPWORDS and w not in _COMMON_NAMES
            and w not in _BROAD_WORDS and w not in _WEEKDAYS and w not in _MONTHS}


# --- events ------------------------------------------------------------------------------------

_KINDS_OF_FEATURE = ("entities", "places", "numbers", "dates", "terms", "kinds", "names",
                     "tokens")


@record
class Profile:
    """An event as stories join it: per feature kind, how many of its stories have each
    value (``events.profile``), and the span of their publication times."""

    counts: dict[str, dict[str, int]]
    first_at: datetime
    last_at: datetime
    stories: int

    @classmethod
    def of(cls, features: Features) -> Profile:
        return cls(counts={k: dict.fromkeys(getattr(features, k), 1) for k in _KINDS_OF_FEATURE},
                   first_at=features.at, last_at=features.at, stories=1)

    def joined(self, features: Features) -> Profile:
        """The profile with one more story; each kind keeps its PROFILE_TOP commonest values."""
        counts = {}
        for kind in _KINDS_OF_FEATURE:
            merged = Counter(self.counts.get(kind, {}))
            merged.update(getattr(features, kind))
            counts[kind] = dict(sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))
                                [:PROFILE_TOP])
        return Profile(counts=counts, first_at=min(self.first_at, features.at),
                       last_at=max(self.last_at, features.at), stories=self.stories + 1)

    def values(self, kind: str) -> set[str]:
        return set(self.counts.get(kind, ()))


def lookup_keys(values: Mapping[str, Iterable[str]]) -> list[str]:
    """The keys an event is found by (GIN-indexed ``events.keys``): specific places,
    numbers, dates, names and entities other than the common ones. A story sharing none of
    them with an event is never compared with it. Title and lead words still score
    (`choose_event`) but find nothing: common ones sit in a fifth of all events, and a GIN
    lookup on them returns most of a large archive (bench/README.md, P7)."""
    keys = set()
    keys.update(f"p:{p}" for p in values.get("places", ()) if p not in BROAD_PLACES)
    keys.update(f"n:{n}" for n in values.get("numbers", ()))
    keys.update(f"d:{d}" for d in values.get("dates", ()))
    keys.update(f"w:{w}" for w in values.get("names", ()))
    keys.update(f"e:{e}" for e in values.get("entities", ()) if e not in COMMON_ENTITIES)
    return sorted(keys)


def feature_values(features: Features) -> dict[str, frozenset[str]]:
    return {k: getattr(features, k) for k in _KINDS_OF_FEATURE}


@record
class Verdict:
    """How well a story fits an event, and why."""

    score: float
    joins: bool
    reason: dict[str, Any]


def judge(features: Features, event: Profile) -> Verdict:
    """Score a story against an event: shared evidence minus contradictions."""
    shared = {k: sorted(getattr(features, k) & event.values(k)) for k in _KINDS_OF_FEATURE}
    parts: dict[str, float] = {}
    parts["entities"] = min(CAP_ENTITY, sum(
        W_COMMON_ENTITY if e in COMMON_ENTITIES else W_ENTITY for e in shared["entities"]))
    specific = [p for p in shared["places"] if p not in BROAD_PLACES]
    parts["places"] = min(CAP_PLACE, W_PLACE * len(specific)
                          + W_BROAD_PLACE * (len(shared["places"]) - len(specific)))
    parts["numbers"] = min(CAP_NUMBER, sum(
        W_NUMBER if float(n.split(":", 1)[1]) >= 4 else W_SMALL_NUMBER for n in shared["numbers"]))
    parts["dates"] = W_DATE if shared["dates"] else 0.0
    parts["terms"] = min(CAP_TERM, W_TERM * len(shared["terms"]))
    parts["names"] = min(CAP_NAME, W_NAME * len(shared["names"]))
    token_share = len(shared["tokens"]) / len(features.tokens) if features.tokens else 0.0
    parts["tokens"] = W_TOKENS * token_share

    against: dict[str, float] = {}
    if features.dates and event.values("dates") and not shared["dates"]:
        against["other_dates"] = P_OTHER_DATE
    own_places = {p for p in features.places if p not in BROAD_PLACES}
    event_places = {p for p in event.values("places") if p not in BROAD_PLACES}
    if own_places and event_places and not specific:
        against["other_places"] = P_OTHER_PLACE
    if features.kinds and event.values("kinds") and not shared["kinds"]:
        against["other_kind"] = P_OTHER_KIND
    if _numbers_disagree(features.numbers, event.values("numbers")):
        against["other_numbers"] = P_OTHER_NUMBER
    days = _days_outside(features.at, event)
    if days:
        against["days_apart"] = round(P_PER_DAY * days, 2)

    score = sum(parts.values()) - sum(against.values())
    distinctive = bool(specific or shared["numbers"] or shared["names"]
                       or any(e not in COMMON_ENTITIES for e in shared["entities"])
                       or token_share >= TOKEN_DISTINCTIVE)
    joins = distinctive and score >= JOIN_THRESHOLD
    reason: dict[str, Any] = {"score": round(score, 2)}
    reason.update({k: v for k, v in shared.items() if v and k != "tokens"})
    if shared["tokens"]:
        reason["words"] = round(token_share, 2)
    if against:
        reason["against"] = against
    if not distinctive:
        reason["not_distinctive"] = True
    return Verdict(score=round(score, 4), joins=joins, reason=reason)


def _numbers_disagree(own: Iterable[str], theirs: Iterable[str]) -> bool:
    """A count of the same thing, given by both, that never agrees (3 dead against 6 dead)."""
    mine: dict[str, set[str]] = {}
    for n in own:
        unit, value = n.split(":", 1)
        mine.setdefault(unit, set()).add(value)
    other: dict[str, set[str]] = {}
    for n in theirs:
        unit, value = n.split(":", 1)
        other.setdefault(unit, set()).add(value)
    return any(unit in other and not values & other[unit]
               for unit, values in mine.items() if unit in ("dead", "boats", "survivors"))


def _days_outside(at: datetime, event: Profile) -> float:
    if event.first_at <= at <= event.last_at:
        return 0.0
    gap = event.first_at - at if at < event.first_at else at - event.last_at
    return max(0.0, gap.total_seconds() / 86400 - 0.5)  # half a day is the same news cycle


def choose_event(features: Features,
                 candidates: Iterable[tuple[int, Profile]]) -> tuple[int | None, dict[str, Any]]:
    """The best candidate event the story joins (None: it starts an event), and the reason:
    the winner's evidence, or the best rejected score."""
    best: tuple[float, int, Verdict] | None = None
    best_rejected: float | None = None
    for event_id, profile in candidates:
        verdict = judge(features, profile)
        if verdict.joins:
            if best is None or (verdict.score, -event_id) > (best[0], -best[1]):
                best = (verdict.score, event_id, verdict)
        elif best_rejected is None or verdict.score > best_rejected:
            best_rejected = verdict.score
    if best is None:
        reason: dict[str, Any] = {"new": True}
        if best_rejected is not None:
            reason["best_rejected_score"] = round(best_rejected, 2)
        return None, reason
    return best[1], {"joined": True, **best[2].reason}
