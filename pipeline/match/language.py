"""Which language an article is written in (py3langid: offline, ships its model)."""

from __future__ import annotations

import functools
import re

from py3langid.langid import MODEL_FILE, LanguageIdentifier

_SAMPLE_CHARS = 600  # the opening says enough, and the classifier walks bytes in Python
_MIN_LETTERS = 20
_MIN_CONFIDENCE = 0.75
_LETTER = re.compile(r"[^\W\d_]")


@functools.cache
def _identifier() -> LanguageIdentifier:
    # Loaded on first use, not at import: the model takes about a second to unpack.
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when it is too short or unclear."""
    if not isinstance(text, str):
        return None
    sample = text[:_SAMPLE_CHARS]
    if len(_LETTER.findall(sample)) < _MIN_LETTERS:
        return None
    lang, confidence = _identifier().classify(sample)
    if confidence < _MIN_CONFIDENCE or len(lang) != 2:
        return None
    return lang


def normalise_language(lang: str | None) -> str | None:
    """'es-VE', 'ES', 'es_419' -> 'es'; anything unusable -> None."""
    if not lang or not isinstance(lang, str):
        return None
    code = re.split(r"[-_]", lang.strip(), maxsplit=1)[0].lower()
    return code if len(code) == 2 and code.isalpha() else None
