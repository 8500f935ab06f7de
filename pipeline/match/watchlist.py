"""Watchlists: TOML files that say what a subject looks like in the news.

A watchlist has entities (people, organisations, places, events) with their
names and ambiguous aliases, vocabularies (lists of words in each language),
keyword rules, contexts that damp passing or off-topic mentions, scoring
weights and one threshold. `docs/watchlists.md`-style documentation lives in
the shipped file itself (`pipeline/watchlists/venezuela.toml`).

Loading compiles every term of the file into one `Scanner`, so matching an
article is one pass over its text.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigurationError
from pipeline.match.query import Atom, Node, QueryError, atoms, parse_query, required
from pipeline.match.scanner import Scanner, Term, TermError, parse_term

WATCHLIST_DIR = Path(__file__).resolve().parent.parent / "watchlists"
ENTITY_TYPES = ("person", "organisation", "place", "event")
CASES = ("any", "initial", "caps", "exact")
REQUIRES = ("none", "cue", "case_or_cue")
LANGUAGE_KEYS = ("any", "en", "es", "pt", "fr", "de", "it")


class WatchlistError(ConfigurationError):
    """A watchlist file that is missing or malformed."""


@dataclass(frozen=True, slots=True)
class TermUse:
    """One way a watchlist uses a scanned term: how it must be written, in which language."""

    term: int  # index in the scanner
    spelling: str  # as written in the watchlist, for case checks
    case: str = "any"
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class Alias:
    """Names of an entity that share one disambiguation rule."""

    uses: tuple[TermUse, ...]
    require: str = "none"  # "cue": a cue must be near; "case_or_cue": capitalised mid-sentence, or a cue
    cues: tuple[Atom, ...] = ()
    lower_cues: tuple[Atom, ...] = ()  # for a lower-case use under case_or_cue (default: cues)
    vetoes: tuple[Atom, ...] = ()
    window: int = 12  # words either side for cues; 0 = anywhere in the article
    veto_window: int = 12
    # A capitalised word just before it (not a cue, not opening a sentence) makes it part
    # of another name: "Ricardo Maduro", "Camila Cabello", "Parque Miraflores".
    reject_after_name: bool = False


@dataclass(frozen=True, slots=True)
class Entity:
    id: str
    type: str
    tier: str
    weight: float
    aliases: tuple[Alias, ...]
    excludes: tuple[TermUse, ...] = ()  # longer names that are someone else ("Camila Cabello")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    expr: str
    node: Node
    weight: float
    tier: str
    entity: str | None = None
    lang: str | None = None
    anchors: frozenset[int] | None = None  # it cannot hold unless one of these terms is found


@dataclass(frozen=True, slots=True)
class Context:
    """A topic recognised by its vocabulary; when present it damps some tiers."""

    id: str
    terms: tuple[Atom, ...]
    min_hits: int = 2
    title_hits: int = 1
    damp: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Tier:
    requires: str | None = None  # a context id; without it the tier's weight is cut
    otherwise: float = 1.0


@dataclass(frozen=True, slots=True)
class Scoring:
    title: float = 2.5
    lead: float = 1.5
    body: float = 0.8
    deep: float = 0.5
    lead_chars: int = 400
    deep_chars: int = 1500
    repeat_bonus: float = 0.25
    repeat_cap: int = 4
    cooccurrence_bonus: float = 0.6
    cooccurrence_cap: int = 3
    cooccurrence_min: float = 1.0  # a signal damped below this does not count as co-occurring
    evidence_per_entity: int = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class Watchlist:
    name: str
    description: str
    path: Path
    threshold: float
    languages: tuple[str, ...]
    scoring: Scoring
    tiers: dict[str, Tier]
    entities: tuple[Entity, ...]
    rules: tuple[Rule, ...]
    contexts: tuple[Context, ...]
    vocab: dict[str, tuple[TermUse, ...]]
    vocab_by_term: dict[int, tuple[tuple[str, TermUse], ...]]  # term -> (vocabulary, use)
    atom_uses: dict[tuple[str, bool], TermUse]  # rule/cue terms: (text, exact case)
    names: dict[int, tuple[tuple[int, int, TermUse], ...]]  # term -> (entity, alias, use)
    scanner: Scanner


def load_watchlist(name_or_path: str | Path) -> Watchlist:
    """A shipped watchlist by name ("venezuela") or any TOML file by path; compiled once."""
    path = _locate(name_or_path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise WatchlistError(f"match: cannot read watchlist {path}: {exc.strerror}") from exc
    return _compile_file(str(path), stat.st_mtime_ns, stat.st_size)


def shipped_watchlists() -> list[str]:
    return sorted(p.stem for p in WATCHLIST_DIR.glob("*.toml"))


def _locate(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text:
        return Path(text).expanduser().resolve()
    path = WATCHLIST_DIR / f"{text}.toml"
    if not path.is_file():
        known = ", ".join(shipped_watchlists()) or "none"
        raise WatchlistError(f"match: no watchlist named {text!r} (shipped: {known})")
    return path


@functools.lru_cache(maxsize=16)
def _compile_file(path: str, _mtime_ns: int, _size: int) -> Watchlist:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise WatchlistError(f"match: cannot read watchlist {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise WatchlistError(f"match: watchlist {path} is not valid TOML: {exc}") from exc
    return compile_watchlist(data, path=Path(path))


def compile_watchlist(data: dict[str, Any], *, path: Path) -> Watchlist:
    """Validate a parsed watchlist and compile all its terms into one scanner."""
    try:
        return _Compiler(data, path).build()
    except (TermError, QueryError, TypeError, KeyError) as exc:
        raise WatchlistError(f"match: watchlist {path.name}: {exc}") from exc


class _Compiler:
    def __init__(self, data: dict[str, Any], path: Path) -> None:
        self.data, self.path = data, path
        self.terms: list[Term] = []
        self.term_index: dict[Term, int] = {}

    def term(self, raw: str, *, case: str = "any", lang: str | None = None) -> TermUse:
        if not isinstance(raw, str):
            raise TypeError(f"term {raw!r} is not a string")
        if raw.startswith("="):
            raw, case = raw[1:], "caps"
        term = parse_term(raw)
        if term not in self.term_index:
            self.term_index[term] = len(self.terms)
            self.terms.append(term)
        return TermUse(self.term_index[term], raw, case, lang)

    def build(self) -> Watchlist:
        data = self.data
        name = str(data.get("name") or self.path.stem)
        vocab = self.vocabularies(data.get("vocab", {}))
        scoring = Scoring(**data.get("scoring", {}))
        tiers = {tier: Tier(**spec) for tier, spec in data.get("tiers", {}).items()}
        entities = tuple(self.entity(spec) for spec in data.get("entity", []))
        rules = tuple(self.rule(spec) for spec in data.get("rule", []))
        contexts = tuple(self.context(spec) for spec in data.get("context", []))
        for tier in {e.tier for e in entities} | {r.tier for r in rules}:
            tiers.setdefault(tier, Tier())
        atom_uses = self.atom_uses(entities, rules, contexts)
        names: dict[int, list[tuple[int, int, TermUse]]] = {}
        for e, entity in enumerate(entities):
            for a, alias in enumerate(entity.aliases):
                for use in alias.uses:
                    names.setdefault(use.term, []).append((e, a, use))

        def terms_of(atom: Atom) -> frozenset[int]:
            if atom.kind == "vocab":
                return frozenset(u.term for u in vocab.get(atom.name, ()))
            if atom.kind == "entity":
                return frozenset(u.term for e in entities if e.id == atom.name
                                 for al in e.aliases for u in al.uses)
            return frozenset({atom_uses[(atom.name, atom.exact_case)].term})

        rules = tuple(dataclasses.replace(r, anchors=required(r.node, terms_of)) for r in rules)
        by_term: dict[int, list[tuple[str, TermUse]]] = {}
        for vocab_name, uses in vocab.items():
            for use in uses:
                by_term.setdefault(use.term, []).append((vocab_name, use))
        wl = Watchlist(
            name=name, description=str(data.get("description", "")), path=self.path,
            threshold=float(data.get("threshold", 3.0)),
            languages=tuple(data.get("languages", ("en", "es"))),
            scoring=scoring, tiers=tiers, entities=entities, rules=rules,
            contexts=contexts, vocab=vocab, atom_uses=atom_uses,
            vocab_by_term={t: tuple(v) for t, v in by_term.items()},
            names={t: tuple(v) for t, v in names.items()}, scanner=Scanner(self.terms),
        )
        self.check_references(wl)
        return wl

    def vocabularies(self, spec: dict[str, Any]) -> dict[str, tuple[TermUse, ...]]:
        raw: dict[str, list[tuple[str, str | None]]] = {}
        for vocab_name, by_lang in spec.items():
            if not isinstance(by_lang, dict):
                raise TypeError(f"vocab.{vocab_name} must be a table of language = [terms]")
            for lang, words in by_lang.items():
                if lang not in LANGUAGE_KEYS:
                    raise TypeError(f"vocab.{vocab_name}: unknown language key {lang!r}")
                raw.setdefault(vocab_name, []).extend(
                    (w, None if lang == "any" else lang) for w in words)
        resolved: dict[str, tuple[TermUse, ...]] = {}

        def resolve(vocab_name: str, seen: tuple[str, ...]) -> tuple[TermUse, ...]:
            if vocab_name in seen:
                raise TypeError(f"vocab.{vocab_name} includes itself")
            if vocab_name not in raw:
                raise KeyError(f"unknown vocabulary @{vocab_name}")
            if vocab_name not in resolved:
                uses: list[TermUse] = []
                for word, lang in raw[vocab_name]:
                    if isinstance(word, str) and word.startswith("#"):
                        raise TypeError(f"vocab.{vocab_name}: {word!r}: entities go in cues, "
                                        "not in vocabularies")
                    if isinstance(word, str) and word.startswith("@"):
                        uses.extend(resolve(word[1:], (*seen, vocab_name)))
                    else:
                        uses.append(self.term(word, lang=lang))
                resolved[vocab_name] = tuple(dict.fromkeys(uses))
            return resolved[vocab_name]

        for vocab_name in raw:
            resolve(vocab_name, ())
        return resolved

    def entity(self, spec: dict[str, Any]) -> Entity:
        entity_id = spec["id"]
        if spec.get("type") not in ENTITY_TYPES:
            raise TypeError(f"entity {entity_id}: type must be one of {', '.join(ENTITY_TYPES)}")
        aliases = []
        if spec.get("names"):
            case = _choice(spec.get("case", "any"), CASES, f"entity {entity_id}: case")
            aliases.append(Alias(tuple(self.term(n, case=case) for n in spec["names"])))
        for alias in spec.get("alias", []):
            aliases.append(self.alias(entity_id, alias))
        return Entity(
            id=entity_id, type=spec["type"], tier=spec.get("tier", "core"),
            weight=float(spec.get("weight", 1.0)), aliases=tuple(aliases),
            excludes=tuple(self.term(t) for t in spec.get("excludes", [])),
        )

    def alias(self, entity_id: str, spec: dict[str, Any]) -> Alias:
        where = f"entity {entity_id}: alias {spec.get('names')}"
        case = _choice(spec.get("case", "any"), CASES, f"{where}: case")
        require = _choice(spec.get("require", "none"), REQUIRES, f"{where}: require")
        if require != "none" and not spec.get("cues"):
            raise TypeError(f"{where}: require = {require!r} needs cues")
        window = int(spec.get("window", 12))
        return Alias(
            uses=tuple(self.term(n, case=case) for n in spec["names"]),
            require=require,
            cues=tuple(_atom(c) for c in spec.get("cues", [])),
            lower_cues=tuple(_atom(c) for c in spec.get("lower_cues", spec.get("cues", []))),
            vetoes=tuple(_atom(v) for v in spec.get("vetoes", [])),
            window=window,
            veto_window=int(spec.get("veto_window", window or 12)),
            reject_after_name=bool(spec.get("reject_after_name", False)),
        )

    def rule(self, spec: dict[str, Any]) -> Rule:
        try:
            node = parse_query(spec["expr"])
        except QueryError as exc:
            raise QueryError(f"rule {spec.get('id')}: {exc}") from exc
        return Rule(id=spec["id"], expr=spec["expr"], node=node,
                    weight=float(spec.get("weight", 1.0)), tier=spec.get("tier", "core"),
                    entity=spec.get("entity"), lang=spec.get("lang"))

    def context(self, spec: dict[str, Any]) -> Context:
        return Context(id=spec["id"], terms=tuple(_atom(t) for t in spec["terms"]),
                       min_hits=int(spec.get("min_hits", 2)),
                       title_hits=int(spec.get("title_hits", 1)),
                       damp={k: float(v) for k, v in spec.get("damp", {}).items()})

    def atom_uses(self, entities, rules, contexts) -> dict[tuple[str, bool], TermUse]:
        found: list[Atom] = [a for r in rules for a in atoms(r.node)]
        found += [a for e in entities for al in e.aliases
                  for a in (*al.cues, *al.lower_cues, *al.vetoes)]
        found += [a for c in contexts for a in c.terms]
        return {(a.name, a.exact_case): self.term(a.name, case="caps" if a.exact_case else "any")
                for a in found if a.kind == "term"}

    def check_references(self, wl: Watchlist) -> None:
        ids = [e.id for e in wl.entities]
        if len(set(ids)) != len(ids):
            raise TypeError("entity ids must be unique")
        contexts = {c.id for c in wl.contexts}
        for tier_name, tier in wl.tiers.items():
            if tier.requires and tier.requires not in contexts:
                raise KeyError(f"tiers.{tier_name} requires unknown context {tier.requires!r}")
        everything: list[tuple[str, Atom]] = [(f"rule {r.id}", a) for r in wl.rules
                                              for a in atoms(r.node)]
        everything += [(f"entity {e.id}", a) for e in wl.entities for al in e.aliases
                       for a in (*al.cues, *al.lower_cues, *al.vetoes)]
        everything += [(f"context {c.id}", a) for c in wl.contexts for a in c.terms]
        for where, atom in everything:
            if atom.kind == "vocab" and atom.name not in wl.vocab:
                raise KeyError(f"{where}: unknown vocabulary @{atom.name}")
            if atom.kind == "entity" and atom.name not in ids:
                raise KeyError(f"{where}: unknown entity #{atom.name}")
        for rule in wl.rules:
            if rule.entity and rule.entity not in ids:
                raise KeyError(f"rule {rule.id}: unknown entity {rule.entity!r}")


def _atom(raw: str) -> Atom:
    if raw.startswith("@"):
        return Atom("vocab", raw[1:])
    if raw.startswith("#"):
        return Atom("entity", raw[1:])
    if raw.startswith("="):
        return Atom("term", raw[1:], exact_case=True)
    return Atom("term", raw)


def _choice(value: str, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise TypeError(f"{where} must be one of {', '.join(allowed)}, not {value!r}")
    return value
