"""GDELT's English names of languages and countries, as ISO codes.

GDELT's article lists say `"language": "Spanish"` and `"sourcecountry": "Venezuela"`.
The names are those of GDELT's own lookup lists (LOOKUP-LANGUAGES.TXT: the 65 languages it
translates; LOOKUP-COUNTRIES.TXT: FIPS 10-4 names, GDELT's country scheme). Matching ignores
case, spaces and punctuation ("Cote dIvoire", "NorwegianNynorsk"). A name not listed is
None: never a guess. No library is used on purpose: CLDR's names (Babel, pycountry) differ
from GDELT's ("Czechia", "Türkiye", "Congo - Brazzaville") and change between releases.
"""

from __future__ import annotations

import re
import unicodedata

# LOOKUP-LANGUAGES.TXT -> ISO 639-1.
_LANGUAGES = {
    "Afrikaans": "af", "Albanian": "sq", "Arabic": "ar", "Armenian": "hy",
    "Azerbaijani": "az", "Bengali": "bn", "Bosnian": "bs", "Bulgarian": "bg",
    "Catalan": "ca", "Chinese": "zh", "Croatian": "hr", "Czech": "cs", "Danish": "da",
    "Dutch": "nl", "English": "en", "Estonian": "et", "Finnish": "fi", "French": "fr",
    "Galician": "gl", "Georgian": "ka", "German": "de", "Greek": "el", "Gujarati": "gu",
    "Hebrew": "he", "Hindi": "hi", "Hungarian": "hu", "Icelandic": "is",
    "Indonesian": "id", "Italian": "it", "Japanese": "ja", "Kannada": "kn", "Kazakh": "kk",
    "Korean": "ko", "Latvian": "lv", "Lithuanian": "lt", "Macedonian": "mk", "Malay": "ms",
    "Malayalam": "ml", "Marathi": "mr", "Mongolian": "mn", "Nepali": "ne",
    "Norwegian": "no", "NorwegianNynorsk": "nn", "Persian": "fa", "Polish": "pl",
    "Portuguese": "pt", "Punjabi": "pa", "Romanian": "ro", "Russian": "ru", "Serbian": "sr",
    "Sinhalese": "si", "Slovak": "sk", "Slovenian": "sl", "Somali": "so", "Spanish": "es",
    "Swahili": "sw", "Swedish": "sv", "Tamil": "ta", "Telugu": "te", "Thai": "th",
    "Tibetan": "bo", "Turkish": "tr", "Ukrainian": "uk", "Urdu": "ur", "Vietnamese": "vi",
}

# LOOKUP-COUNTRIES.TXT -> ISO 3166-1 alpha-2. Beware FIPS vs ISO: GDELT's "Congo" is
# Brazzaville (CG), its "Democratic Republic of the Congo" Kinshasa (CD). Small territories
# ISO files under a larger code take that code (the Iles Eparses are TF, the US minor
# islands UM, Gaza Strip and West Bank PS, Svalbard and Jan Mayen SJ). Kosovo is XK, the
# code the EU and CLDR use (ISO has none yet). Left out, so None: places with no ISO code
# (Akrotiri, Dhekelia, Ashmore and Cartier, Coral Sea, Clipperton, the Kuril, Paracel and
# Spratly islands, Oceans, No Mans Land, Undersea Features, Undesignated Sovereignty) and
# states that no longer exist (Czechoslovakia, Netherlands Antilles).
_COUNTRIES = {
    "Afghanistan": "AF", "Albania": "AL", "Algeria": "DZ", "American Samoa": "AS",
    "Andorra": "AD", "Angola": "AO", "Anguilla": "AI", "Antarctica": "AQ",
    "Antigua and Barbuda": "AG", "Argentina": "AR", "Armenia": "AM", "Aruba": "AW",
    "Australia": "AU", "Austria": "AT", "Azerbaijan": "AZ",
    "Bahamas, The": "BS", "Bahamas": "BS", "Bahrain": "BH", "Baker Island": "UM",
    "Bangladesh": "BD", "Barbados": "BB", "Bassas da India": "TF", "Belarus": "BY",
    "Belgium": "BE", "Belize": "BZ", "Benin": "BJ", "Bermuda": "BM", "Bhutan": "BT",
    "Bolivia": "BO", "Bosnia-Herzegovina": "BA", "Bosnia and Herzegovina": "BA",
    "Botswana": "BW", "Bouvet Island": "BV", "Brazil": "BR",
    "British Indian Ocean Territory": "IO", "British Virgin Islands": "VG", "Brunei": "BN",
    "Bulgaria": "BG", "Burkina Faso": "BF", "Burma": "MM", "Burundi": "BI",
    "Cambodia": "KH", "Cameroon": "CM", "Canada": "CA", "Cape Verde": "CV",
    "Cayman Islands": "KY", "Central African Republic": "CF", "Chad": "TD", "Chile": "CL",
    "China": "CN", "Christmas Island": "CX", "Cocos Keeling Islands": "CC", "Colombia": "CO",
    "Comoros": "KM", "Congo": "CG", "Cook Islands": "CK", "Costa Rica": "CR",
    "Cote dIvoire": "CI", "Croatia": "HR", "Cuba": "CU", "Cyprus": "CY",
    "Czech Republic": "CZ",
    "Democratic Republic of the Congo": "CD", "Denmark": "DK", "Djibouti": "DJ",
    "Dominica": "DM", "Dominican Republic": "DO",
    "East Timor": "TL", "Ecuador": "EC", "Egypt": "EG", "El Salvador": "SV",
    "Equatorial Guinea": "GQ", "Eritrea": "ER", "Estonia": "EE", "Ethiopia": "ET",
    "Europa Island": "TF",
    "Falkland Islands Islas Malvinas": "FK", "Falkland Islands": "FK",
    "Faroe Islands": "FO", "Fiji": "FJ", "Finland": "FI", "France": "FR",
    "French Guiana": "GF", "French Polynesia": "PF",
    "French Southern and Antarctic Lands": "TF",
    "Gabon": "GA", "Gambia, The": "GM", "Gambia": "GM", "Gaza Strip": "PS", "Georgia": "GE",
    "Germany": "DE", "Ghana": "GH", "Gibraltar": "GI", "Glorioso Islands": "TF",
    "Greece": "GR", "Greenland": "GL", "Grenada": "GD", "Guadeloupe": "GP", "Guam": "GU",
    "Guatemala": "GT", "Guernsey": "GG", "Guinea": "GN", "Guinea-Bissau": "GW",
    "Guyana": "GY",
    "Haiti": "HT", "Heard Island and McDonald Islands": "HM", "Honduras": "HN",
    "Hong Kong": "HK", "Howland Island": "UM", "Hungary": "HU",
    "Iceland": "IS", "India": "IN", "Indonesia": "ID", "Iran": "IR", "Iraq": "IQ",
    "Ireland": "IE", "Isle of Man": "IM", "Israel": "IL", "Italy": "IT",
    "Jamaica": "JM", "Jan Mayen": "SJ", "Japan": "JP", "Jarvis Island": "UM", "Jersey": "JE",
    "Johnston Atoll": "UM", "Jordan": "JO", "Juan de Nova Island": "TF",
    "Kazakhstan": "KZ", "Kenya": "KE", "Kingman Reef": "UM", "Kiribati": "KI",
    "Kosovo": "XK", "Kuwait": "KW", "Kyrgyzstan": "KG",
    "Laos": "LA", "Latvia": "LV", "Lebanon": "LB", "Lesotho": "LS", "Liberia": "LR",
    "Libya": "LY", "Liechtenstein": "LI", "Lithuania": "LT", "Luxembourg": "LU",
    "Macau": "MO", "Macedonia": "MK", "Madagascar": "MG", "Malawi": "MW", "Malaysia": "MY",
    "Maldives": "MV", "Mali": "ML", "Malta": "MT", "Marshall Islands": "MH",
    "Martinique": "MQ", "Mauritania": "MR", "Mauritius": "MU", "Mayotte": "YT",
    "Mexico": "MX", "Micronesia": "FM", "Midway Islands": "UM", "Moldova": "MD",
    "Monaco": "MC", "Mongolia": "MN", "Montenegro": "ME", "Montserrat": "MS",
    "Morocco": "MA", "Mozambique": "MZ", "Myanmar": "MM",
    "Namibia": "NA", "Nauru": "NR", "Navassa Island": "UM", "Nepal": "NP",
    "Netherlands": "NL", "New Caledonia": "NC", "New Zealand": "NZ", "Nicaragua": "NI",
    "Niger": "NE", "Nigeria": "NG", "Niue": "NU", "Norfolk Island": "NF",
    "North Korea": "KP", "Northern Mariana Islands": "MP", "Norway": "NO",
    "Oman": "OM",
    "Pakistan": "PK", "Palau": "PW", "Palmyra Atoll": "UM", "Panama": "PA",
    "Papua New Guinea": "PG", "Paraguay": "PY", "Peru": "PE", "Philippines": "PH",
    "Pitcairn Islands": "PN", "Poland": "PL", "Portugal": "PT", "Puerto Rico": "PR",
    "Qatar": "QA",
    "Reunion": "RE", "Romania": "RO", "Russia": "RU", "Rwanda": "RW",
    "Saint Helena": "SH", "Saint Kitts and Nevis": "KN", "Saint Lucia": "LC",
    "Saint Martin": "MF", "Saint Pierre and Miquelon": "PM",
    "Saint Vincent and the Grenadines": "VC", "Saint-Barthelemy Island": "BL",
    "Samoa": "WS", "San Marino": "SM", "Sao Tome and Principe": "ST",
    "Saudi Arabia": "SA", "Senegal": "SN", "Serbia": "RS", "Seychelles": "SC",
    "Sierra Leone": "SL", "Singapore": "SG", "Slovakia": "SK", "Slovenia": "SI",
    "Solomon Islands": "SB", "Somalia": "SO", "South Africa": "ZA",
    "South Georgia and the South Sandwich Islands": "GS", "South Korea": "KR",
    "South Sudan": "SS", "Spain": "ES", "Sri Lanka": "LK", "Sudan": "SD", "Suriname": "SR",
    "Svalbard": "SJ", "Swaziland": "SZ", "Sweden": "SE", "Switzerland": "CH", "Syria": "SY",
    "Taiwan": "TW", "Tajikistan": "TJ", "Tanzania": "TZ", "Thailand": "TH", "Togo": "TG",
    "Tokelau": "TK", "Tonga": "TO", "Trinidad and Tobago": "TT", "Tromelin Island": "TF",
    "Tunisia": "TN", "Turkey": "TR", "Turkmenistan": "TM", "Turks and Caicos Islands": "TC",
    "Tuvalu": "TV",
    "Uganda": "UG", "Ukraine": "UA", "United Arab Emirates": "AE", "United Kingdom": "GB",
    "United States": "US", "Uruguay": "UY", "Uzbekistan": "UZ",
    "Vanuatu": "VU", "Vatican City": "VA", "Venezuela": "VE",
    "Vietnam, Democratic Republic of": "VN", "Vietnam": "VN", "Virgin Islands": "VI",
    "Wake Island": "UM", "Wallis and Futuna": "WF", "West Bank": "PS",
    "Western Sahara": "EH",
    "Yemen": "YE",
    "Zambia": "ZM", "Zimbabwe": "ZW",
}

_NOT_LETTERS = re.compile(r"[^a-z]+")


def _key(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _NOT_LETTERS.sub("", ascii_name.lower())


LANGUAGES = {_key(name): code for name, code in _LANGUAGES.items()}
COUNTRIES = {_key(name): code for name, code in _COUNTRIES.items()}


def language_code(name: object) -> str | None:
    """ISO 639-1 of a GDELT language name ("Spanish" -> "es"), or None."""
    return LANGUAGES.get(_key(name)) if isinstance(name, str) else None


def country_code(name: object) -> str | None:
    """ISO 3166-1 alpha-2 of a GDELT country name ("Venezuela" -> "VE"), or None."""
    return COUNTRIES.get(_key(name)) if isinstance(name, str) else None
