"""One pass over a text for every term of a watchlist.

All terms (entity names, cue and veto words, rule phrases) are folded into a
single character trie and compiled into ONE regular expression, so a text is
scanned once whatever the size of the watchlist.

The text is folded in C before the scan, keeping one byte per character so
offsets need no map: lower-case, map the common non-Latin-1 punctuation to
ASCII, encode as Latin-1 (other characters become "?", read as letters), and
strip accents with a byte table. Only a text written with combining accents
takes a slower path with an offset map.

A term is written the way people read it: "Tren de Aragua", "narcolancha*"
(a stem: any ending), "Cartel de los Soles". Matching is on word boundaries,
ignores accents, case and the punctuation between words, and accepts a plural
ending (-s, -es) on every word. Terms must be in the Latin alphabet.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

WORD = re.compile(r"[^\W_]+")
_COMBINING = re.compile("[\u0300-\u036f]")

# The scan works on bytes: folded Latin-1, where "?" stands for any other character.
_LETTERS = r"0-9a-z?\xaa\xb5\xba\xdf-\xf6\xf8-\xff"
_WORD_CHAR = f"[{_LETTERS}]"
_SEPARATOR = f"[^{_LETTERS}]{{1,3}}"  # "Padrino-López", "Tren de\nAragua", "EE. UU."
_PLURAL = "(?:e?s)?"
_STEM = _WORD_CHAR + "*"
_END = f"(?!{_WORD_CHAR})"
_WORD_BYTES = re.compile(f"{_WORD_CHAR}+".encode())
# Punctuation outside Latin-1 that news text uses, mapped to one ASCII character each.
_PUNCTUATION = [("?", "!"), ("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'),
                ("\u2013", "-"), ("\u2014", "-"), ("\u2010", "-"), ("\u2011", "-"),
                ("\u2026", "."), ("\u2022", "*"), ("\u2009", " "), ("\u202f", " "),
                ("\u200b", " "), ("\u2032", "'")]
_FOLD = bytes.maketrans(
    bytes(range(0xC0, 0x100)),
    bytes(ord(unicodedata.normalize("NFD", chr(c).lower())[0])
          if unicodedata.normalize("NFD", chr(c).lower())[0].isascii() else c
          for c in range(0xC0, 0x100)))
# Order of trie branches: letters first, so the longest specific term wins over
# a plural ending or a stem that would swallow it.
_RANK = {_PLURAL: 1, _STEM: 1, _SEPARATOR: 2}


class TermError(ValueError):
    """A term that cannot be matched (empty, or punctuation only)."""


@dataclass(frozen=True, slots=True)
class Term:
    """A term as the scanner sees it: folded words, and which of them are stems."""

    words: tuple[str, ...]
    stems: tuple[bool, ...]

    @property
    def text(self) -> str:
        return " ".join(w + ("*" if s else "") for w, s in zip(self.words, self.stems))


def fold(text: str) -> str:
    """Lower-case and strip accents: 'Rodríguez' -> 'rodriguez'."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def parse_term(raw: str) -> Term:
    """'Narcolancha*' -> Term(('narcolancha',), (True,))."""
    words: list[str] = []
    stems: list[bool] = []
    for chunk in re.split(r"[\W_]+(?<!\*)", fold(raw.strip())):
        stem = chunk.endswith("*")
        word = chunk.rstrip("*")
        if not word:
            continue
        if not WORD.fullmatch(word):
            raise TermError(f"match: term {raw!r} has a '*' inside a word")
        if any(ord(ch) > 0xFF for ch in word):
            raise TermError(f"match: term {raw!r} is not in the Latin alphabet")
        words.append(word)
        stems.append(stem)
    if not words:
        raise TermError(f"match: term {raw!r} has no letters or digits")
    return Term(tuple(words), tuple(stems))


def is_covered(inner: Term, outer: Term) -> list[int]:
    """Word positions in `outer` where `inner` matches too ('drug' in 'drug boat')."""
    n = len(inner.words)
    return [at for at in range(len(outer.words) - n + 1)
            if all(_word_covers(inner, i, outer, at + i) for i in range(n))]


def _word_covers(inner: Term, i: int, outer: Term, j: int) -> bool:
    mine, theirs = inner.words[i], outer.words[j]
    if outer.stems[j]:  # the text may end that word in any way: only a stem is sure to match
        return inner.stems[i] and theirs.startswith(mine)
    if inner.stems[i]:
        return theirs.startswith(mine)
    return theirs in (mine, mine + "s", mine + "es")


class Scanner:
    """Finds every term in a text in one regular-expression pass.

    `scan` returns (term index, start, end) triples with offsets into the
    original text. A hit on a longer term also reports the shorter terms it
    contains ("drug boat" reports "drug" at the same place), so a vocabulary
    word is never lost inside a phrase.
    """

    def __init__(self, terms: list[Term]) -> None:
        self.terms = list(dict.fromkeys(terms))
        self.index = {term: i for i, term in enumerate(self.terms)}
        self._pattern, self._group_term = _compile(self.terms)
        self._inside = _contained_terms(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def scan(self, text: str) -> list[tuple[int, int, int]]:
        low = text.lower()
        if len(low) != len(text):  # 'İ'.lower() is two characters
            low = "".join(ch.lower()[0] for ch in text)
        origin: list[int] | None = None
        if _COMBINING.search(low):  # decomposed accents: drop the marks, remember positions
            origin = [i for i, ch in enumerate(low) if not unicodedata.combining(ch)]
            low = "".join(low[i] for i in origin)
            origin.append(len(text))
        folded = _fold(low)
        hits: list[tuple[int, int, int]] = []
        group_term, inside = self._group_term, self._inside
        # The pattern consumes the separator before a word; the leading space
        # lets a term start the text and cancels out of the offsets.
        for m in self._pattern.finditer(folded):
            term, start, end = group_term[m.lastindex], m.start(), m.end() - 1
            hits.append((term, start, end))
            if term in inside:
                words = [w.span() for w in _WORD_BYTES.finditer(folded, start + 1, end + 1)]
                for sub, at, n in inside[term]:
                    if at + n <= len(words):
                        hits.append((sub, words[at][0] - 1, words[at + n - 1][1] - 1))
        if origin is not None:
            hits = [(t, origin[s], origin[e - 1] + 1) for t, s, e in hits]
        return hits


def _fold(low: str) -> bytes:
    """' ' + the lower-cased text as folded Latin-1 bytes, one byte per character."""
    for old, new in _PUNCTUATION:
        if old in low:
            low = low.replace(old, new)
    if low.isascii():
        return b" " + low.encode("ascii")
    return b" " + low.encode("latin-1", "replace").translate(_FOLD)


def _compile(terms: list[Term]) -> tuple[re.Pattern[str], dict[int, int]]:
    root: dict = {}
    for number, term in enumerate(terms):
        node = root
        for atom in _atoms(term):
            node = node.setdefault(atom, {})
        node.setdefault(None, []).append(number)
    group_term: dict[int, int] = {}

    def emit(node: dict) -> str:
        branches = [atom + emit(child) for atom, child in
                    sorted(((a, c) for a, c in node.items() if a is not None),
                           key=lambda ac: _RANK.get(ac[0], 0))]
        for number in node.get(None, ()):
            group_term[len(group_term) + 1] = number
            branches.append(_END + "()")
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    body = emit(root) if root else "(?!)"
    return re.compile(f"[^{_LETTERS}]{body}".encode("ascii")), group_term


def _atoms(term: Term) -> list[str]:
    atoms: list[str] = []
    for i, (word, stem) in enumerate(zip(term.words, term.stems)):
        if i:
            atoms.append(_SEPARATOR)
        atoms.extend(_byte_atom(ch) for ch in word)
        if stem:
            atoms.append(_STEM)
        elif word[-1].isalpha() and len(word) > 1:
            atoms.append(_PLURAL)
    return atoms


def _byte_atom(ch: str) -> str:
    folded = chr(bytes([ord(ch)]).translate(_FOLD)[0])
    return re.escape(folded) if folded.isascii() else f"\\x{ord(folded):02x}"


def _contained_terms(terms: list[Term]) -> dict[int, list[tuple[int, int, int]]]:
    """For each term, the other terms found inside it and where ('narco*' in 'narcolancha*')."""
    by_first: dict[str, list[int]] = {}
    stems: list[int] = []
    for number, term in enumerate(terms):
        if term.stems[0]:
            stems.append(number)
        else:
            by_first.setdefault(term.words[0], []).append(number)
    inside: dict[int, list[tuple[int, int, int]]] = {}
    for number, outer in enumerate(terms):
        found = []
        for word in set(outer.words):
            candidates = set(by_first.get(word, ()))
            for base in (word[:-1], word[:-2]):
                candidates.update(by_first.get(base, ()))
            candidates.update(s for s in stems if word.startswith(terms[s].words[0]))
            for inner in candidates:
                if inner == number or len(terms[inner].words) > len(outer.words):
                    continue
                found.extend((inner, at, len(terms[inner].words))
                             for at in is_covered(terms[inner], outer))
        if found:
            inside[number] = sorted(set(found), key=lambda f: f[1])
    return inside
