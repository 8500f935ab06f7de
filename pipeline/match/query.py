"""Keyword rules: boolean expressions over terms, vocabularies and entities.

    (@strike NEAR/12 @vessel) AND (@drugs OR #venezuela) AND NOT title:"Red Sea"

- `"a phrase"` or `word` or `stem*`: a term, accent-, case- and punctuation-insensitive;
  `=US` is case-sensitive (the capitals must be capitals in the text);
- `@name`: any term of the watchlist vocabulary `name`;
- `#entity_id`: an accepted mention of that entity;
- `AND`, `OR`, `NOT`, parentheses; `a NEAR/n b`: some hit of a and some hit of b in
  the same field with at most n words between them;
- `title:x`, `body:x`, `lead:x` (title or the first paragraph): only hits in that field.

Evaluating returns the hits that satisfied the expression, so every rule verdict
can point at the words that made it true.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol


class QueryError(ValueError):
    """A rule expression that does not parse."""


class Hit(NamedTuple):
    field: str  # "title" or "text"
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Atom:
    kind: str  # "term", "vocab" or "entity"
    name: str
    exact_case: bool = False


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class AllOf:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Near:
    left: Node
    right: Node
    words: int


@dataclass(frozen=True, slots=True)
class Scoped:
    scope: str  # "title", "body" or "lead"
    child: Node


Node = Atom | Not | AllOf | AnyOf | Near | Scoped

_TOKEN = re.compile(r"""\s*(?:
    (?P<open>\()|(?P<close>\))|"(?P<phrase>[^"]*)"|NEAR/(?P<near>\d+)\b
    |(?P<op>AND|OR|NOT)\b|(?P<scope>title|body|lead):|(?P<word>[@#=]?[^\s()"]+))""", re.VERBOSE)


def parse_query(source: str) -> Node:
    tokens = _tokenize(source)
    parser = _Parser(tokens, source)
    node = parser.parse_or()
    if parser.pos != len(tokens):
        raise QueryError(f"unexpected {tokens[parser.pos][1]!r} in {source!r}")
    return node


def atoms(node: Node) -> list[Atom]:
    """Every atom in the expression, for compiling its terms into the scanner."""
    if isinstance(node, Atom):
        return [node]
    if isinstance(node, Not | Scoped):
        return atoms(node.child)
    if isinstance(node, Near):
        return atoms(node.left) + atoms(node.right)
    return [a for child in node.children for a in atoms(child)]


def required(node: Node, terms_of: Callable[[Atom], frozenset[int]]) -> frozenset[int] | None:
    """Terms of which a text needs at least one for the expression to hold (None: no such set).

    Lets the matcher skip a rule without evaluating it when none of these was scanned.
    """
    if isinstance(node, Atom):
        return terms_of(node)
    if isinstance(node, Scoped):
        return required(node.child, terms_of)
    if isinstance(node, Not):
        return None
    if isinstance(node, Near):
        sides = [required(node.left, terms_of), required(node.right, terms_of)]
    elif isinstance(node, AllOf):
        sides = [required(child, terms_of) for child in node.children]
    else:  # AnyOf: any child may be the one that holds
        sides = [required(child, terms_of) for child in node.children]
        return None if any(s is None for s in sides) else frozenset().union(*sides)
    known = [s for s in sides if s is not None]
    return min(known, key=len) if known else None


def _tokenize(source: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        m = _TOKEN.match(source, pos)
        if not m or m.end() == pos:
            raise QueryError(f"cannot read {source[pos:pos + 20]!r} in {source!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], source: str) -> None:
        self.tokens, self.source, self.pos = tokens, source, 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.peek() == ("op", "OR"):
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else AnyOf(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_not()]
        while self.peek() == ("op", "AND"):
            self.take()
            children.append(self.parse_not())
        if all(isinstance(c, Not) for c in children):
            raise QueryError(f"NOT needs something positive beside it in {self.source!r}")
        return children[0] if len(children) == 1 else AllOf(tuple(children))

    def parse_not(self) -> Node:
        if self.peek() == ("op", "NOT"):
            self.take()
            return Not(self.parse_not())
        return self.parse_near()

    def parse_near(self) -> Node:
        node = self.parse_primary()
        while self.peek()[0] == "near":
            words = int(self.take()[1])
            right = self.parse_primary()
            if _has_not(node) or _has_not(right):
                raise QueryError(f"NEAR cannot take a NOT in {self.source!r}")
            node = Near(node, right, words)
        return node

    def parse_primary(self) -> Node:
        kind, value = self.take()
        if kind == "open":
            node = self.parse_or()
            if self.take()[0] != "close":
                raise QueryError(f"missing ')' in {self.source!r}")
            return node
        if kind == "scope":
            return Scoped(value, self.parse_primary())
        if kind == "phrase":
            return Atom("term", value)
        if kind == "word":
            if value[0] == "@":
                return Atom("vocab", value[1:])
            if value[0] == "#":
                return Atom("entity", value[1:])
            if value[0] == "=":
                return Atom("term", value[1:], exact_case=True)
            return Atom("term", value)
        raise QueryError(f"expected a term, got {value or 'the end'!r} in {self.source!r}")


def _has_not(node: Node) -> bool:
    if isinstance(node, Not):
        return True
    if isinstance(node, Scoped):
        return _has_not(node.child)
    if isinstance(node, AllOf | AnyOf):
        return any(_has_not(c) for c in node.children)
    return False


class Resolver(Protocol):
    def atom_hits(self, atom: Atom) -> list[Hit]: ...
    def in_scope(self, hit: Hit, scope: str) -> bool: ...
    def is_near(self, a: Hit, b: Hit, words: int) -> bool: ...


def evaluate(node: Node, resolver: Resolver, scope: str | None = None) -> tuple[bool, list[Hit]]:
    """Whether the expression holds, and the hits that make it hold."""
    if isinstance(node, Atom):
        hits = resolver.atom_hits(node)
        if scope:
            hits = [h for h in hits if resolver.in_scope(h, scope)]
        return bool(hits), hits
    if isinstance(node, Scoped):
        return evaluate(node.child, resolver, node.scope)
    if isinstance(node, Not):
        holds, _ = evaluate(node.child, resolver, scope)
        return not holds, []
    if isinstance(node, AllOf):
        found: list[Hit] = []
        for child in node.children:
            holds, hits = evaluate(child, resolver, scope)
            if not holds:
                return False, []
            found.extend(hits)
        return True, found
    if isinstance(node, AnyOf):
        results = [evaluate(child, resolver, scope) for child in node.children]
        return any(r[0] for r in results), [h for holds, hits in results if holds for h in hits]
    return _near(node, resolver, scope)


def _near(node: Near, resolver: Resolver, scope: str | None) -> tuple[bool, list[Hit]]:
    left = evaluate(node.left, resolver, scope)[1]
    right = evaluate(node.right, resolver, scope)[1] if left else []
    found = {h for a in left for b in right if resolver.is_near(a, b, node.words) for h in (a, b)}
    return bool(found), sorted(found)
