"""Judge one article against a watchlist, and say why.

1. One scan of the title and one of the text find every watchlist term.
2. Entities: plain names count wherever they appear; ambiguous aliases count only
   when their rule holds (capitalised mid-sentence, a cue nearby, the entity already
   named elsewhere in the article) and no veto word is nearby. A name inside a longer
   name counts only as the longer one ("Aragua" inside "Tren de Aragua").
3. Rules are boolean expressions over terms, vocabularies and accepted entities.
4. Contexts (sports, food, an oil-price report...) damp the tiers they name, so a
   passing "Venezuela" in a baseball story weighs next to nothing.
5. Score: each entity and rule weighs by where it first appears (title > lead >
   body > deep body), repeated mentions add a little, distinct signals add a bonus.
"""

from __future__ import annotations

import re

from pipeline.match.language import detect_language, normalise_language
from pipeline.match.query import Atom, Hit, evaluate
from pipeline.match.scanner import WORD
from pipeline.match.watchlist import Alias, Entity, Rule, TermUse, Watchlist
from pipeline.models import EntityMention, Evidence, Match

_OPENERS = set("\"'“”‘’«»¿¡([{—–-*•")
_SENTENCE_END = set(".!?:;…")
_SNIPPET_WIDTH = 70
_CHARS_PER_WORD = 25  # generous: beyond this many characters per word, hits are not near
_COMBINING = re.compile("[\u0300-\u036f]")


def match_article(watchlist: Watchlist, *, title: str, text: str,
                  lang: str | None = None) -> Match:
    """The watchlist's verdict on one article, with the evidence behind it."""
    title = _as_text(title, "title")
    text = _as_text(text, "text")
    lang = normalise_language(lang) or detect_language(f"{title}\n{text}")
    article = _Article(watchlist, title=title, text=text,
                       lang=lang if lang in watchlist.languages else None)
    mentions = article.resolve_entities()
    satisfied = article.evaluate_rules()
    return _verdict(article, mentions, satisfied)


class MatchInputError(ValueError):
    """A title or text that is not text."""


def _as_text(value: object, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MatchInputError(f"match: {name} must be text, not {type(value).__name__}")
    return value


def has_case(written: str, spelling: str, case: str) -> bool:
    """Whether text as written in the article honours a term's case rule.

    initial: words capitalised in the spelling are capitalised in the text ("Maduro");
    caps: letters upper-case in the spelling are upper-case in the text ("US", not "us");
    exact: the case of every letter is as spelled ("TdA", not "TDA" or "tda").
    """
    if case == "any":
        return True
    written = _COMBINING.sub("", written)
    for mine, want in zip(WORD.findall(written), WORD.findall(spelling)):
        if case == "initial":
            pairs = [(want[0], mine[0])]
        else:
            pairs = [(w, m) for w, m in zip(want, mine) if w.isalpha()]
        for w, m in pairs:
            if (w.isupper() and not m.isupper()) or (case == "exact" and w.islower() and m.isupper()):
                return False
    return True


class _Article:
    """One article's hits, and the questions the scoring asks about them."""

    def __init__(self, wl: Watchlist, *, title: str, text: str, lang: str | None) -> None:
        self.wl, self.lang = wl, lang
        self.fields = {"title": title, "text": text}
        self.by_term: dict[int, list[Hit]] = {}
        for name, value in self.fields.items():
            if value:
                for term, start, end in wl.scanner.scan(value):
                    self.by_term.setdefault(term, []).append(Hit(name, start, end))
        self.accepted: dict[str, list[Hit]] = {}
        self._vocab: dict[str, list[Hit]] | None = None
        self._title_case: bool | None = None

    # -- what the text says -------------------------------------------------------

    def written(self, hit: Hit) -> str:
        return self.fields[hit.field][hit.start:hit.end]

    def use_hits(self, use: TermUse) -> list[Hit]:
        hits = self.by_term.get(use.term)
        if not hits or (use.lang and self.lang and use.lang != self.lang):
            return []
        if use.case == "any":
            return hits
        return [h for h in hits if has_case(self.written(h), use.spelling, use.case)]

    def vocab_hits(self, name: str) -> list[Hit]:
        if self._vocab is None:  # all vocabularies at once, from the few terms the text has
            found: dict[str, set[Hit]] = {}
            for term in self.by_term:
                for vocab, use in self.wl.vocab_by_term.get(term, ()):
                    hits = self.use_hits(use)
                    if hits:
                        found.setdefault(vocab, set()).update(hits)
            self._vocab = {vocab: sorted(hits) for vocab, hits in found.items()}
        return self._vocab.get(name, [])

    def atom_hits(self, atom: Atom) -> list[Hit]:
        if atom.kind == "vocab":
            return self.vocab_hits(atom.name)
        if atom.kind == "entity":
            return self.accepted.get(atom.name, [])
        return self.use_hits(self.wl.atom_uses[(atom.name, atom.exact_case)])

    def in_scope(self, hit: Hit, scope: str) -> bool:
        if scope == "title":
            return hit.field == "title"
        if scope == "body":
            return hit.field == "text"
        return hit.field == "title" or hit.start < self.wl.scoring.lead_chars  # lead

    def is_near(self, a: Hit, b: Hit, words: int) -> bool:
        if a.field != b.field:
            return False
        first, second = (a, b) if a.start <= b.start else (b, a)
        if second.start <= first.end:
            return True
        if second.start - first.end > (words + 1) * _CHARS_PER_WORD:
            return False
        gap = WORD.findall(self.fields[a.field], first.end, second.start)
        return len(gap) <= words

    def near_any(self, hit: Hit, atoms: tuple[Atom, ...], window: int) -> bool:
        for atom in atoms:
            for other in self.atom_hits(atom):
                if other.end > hit.start and other.start < hit.end:
                    continue  # the hit itself is no cue for itself
                if window == 0 or self.is_near(hit, other, window):
                    return True
        return False

    def starts_sentence(self, hit: Hit) -> bool:
        """Capitals prove nothing at a sentence start or in a Title Case headline."""
        if hit.field == "title" and self.title_is_title_case():
            return True
        value = self.fields[hit.field]
        i = hit.start - 1
        while i >= 0 and (value[i].isspace() or value[i] in _OPENERS):
            if value[i] == "\n":
                return True
            i -= 1
        return i < 0 or value[i] in _SENTENCE_END

    def title_is_title_case(self) -> bool:
        if self._title_case is None:
            words = [w for w in WORD.findall(self.fields["title"]) if len(w) >= 4 and w.isalpha()]
            capitals = sum(w[0].isupper() for w in words)
            self._title_case = len(words) >= 3 and capitals >= 0.6 * len(words)
        return self._title_case

    # -- entities -----------------------------------------------------------------

    def resolve_entities(self) -> dict[str, list[Hit]]:
        wl = self.wl
        candidates: list[tuple[Entity, Alias, TermUse, Hit]] = []
        for term, hits in self.by_term.items():
            for e, a, use in wl.names.get(term, ()):
                entity = wl.entities[e]
                candidates.extend((entity, entity.aliases[a], use, h) for h in hits)
        if not candidates:
            return self.accepted
        spans = {c[3] for c in candidates}
        pending: list[tuple[Entity, Hit, tuple[Atom, ...], int]] = []
        # plain names first, so an alias can lean on its entity being named elsewhere
        for entity, alias, use, hit in sorted(candidates, key=lambda c: c[1].require != "none"):
            if _inside_longer(hit, spans):
                continue
            verdict = self.judge(entity, alias, use, hit)
            if verdict is True:
                self.accept(entity.id, hit)
            elif verdict is not False:
                pending.append((entity, hit, *verdict))
        for entity, hit, cues, window in pending:
            if entity.id in self.accepted or self.near_any(hit, cues, window):
                self.accept(entity.id, hit)
        return self.accepted

    def judge(self, entity: Entity, alias: Alias, use: TermUse,
              hit: Hit) -> bool | tuple[tuple[Atom, ...], int]:
        """True: a mention; False: not one; (cues, window): one if such a cue is that near."""
        if self.is_excluded(entity, hit):
            return False
        if alias.vetoes and self.near_any(hit, alias.vetoes, alias.veto_window):
            return False
        if alias.reject_after_name and self.follows_other_name(hit, alias.cues):
            return False
        case_ok = has_case(self.written(hit), use.spelling, use.case)
        if alias.require == "none":
            return case_ok
        if alias.require == "cue":
            return (alias.cues, alias.window) if case_ok else False
        if case_ok:
            return True if not self.starts_sentence(hit) else (alias.cues, alias.window)
        # a lower-case "maduro" is the person only right beside a role ("el régimen de maduro")
        return alias.lower_cues, _LOWER_CASE_WINDOW

    def follows_other_name(self, hit: Hit, cues: tuple[Atom, ...]) -> bool:
        """'George Maduro': a capitalised word right before, that is neither a cue nor
        capitalised only because it opens a sentence or a Title Case headline."""
        if hit.field == "title" and self.title_is_title_case():
            return False
        value = self.fields[hit.field]
        before = _PREVIOUS_WORD.search(value, max(0, hit.start - 40), hit.start)
        if not before or not before.group(1)[0].isupper():
            return False
        word = Hit(hit.field, before.start(1), before.end(1))
        if self.starts_sentence(word):
            return False
        return not any(h.field == word.field and h.start <= word.start and word.end <= h.end
                       for atom in cues for h in self.atom_hits(atom))

    def is_excluded(self, entity: Entity, hit: Hit) -> bool:
        for use in entity.excludes:
            for other in self.use_hits(use):
                if other.field == hit.field and other.start <= hit.start and hit.end <= other.end:
                    return True
        return False

    def accept(self, entity_id: str, hit: Hit) -> None:
        hits = self.accepted.setdefault(entity_id, [])
        if hit not in hits:
            hits.append(hit)

    # -- rules and contexts ---------------------------------------------------------

    def evaluate_rules(self) -> list[tuple[Rule, list[Hit]]]:
        satisfied = []
        for rule in self.wl.rules:
            if rule.lang and self.lang and rule.lang != self.lang:
                continue
            if rule.anchors is not None and rule.anchors.isdisjoint(self.by_term):
                continue
            holds, hits = evaluate(rule.node, self)
            if holds:
                satisfied.append((rule, sorted(set(hits))))
        return satisfied

    def active_contexts(self) -> set[str]:
        active = set()
        for context in self.wl.contexts:
            hits = {h for atom in context.terms for h in self.atom_hits(atom)}
            in_title = sum(h.field == "title" for h in hits)
            if len(hits) >= context.min_hits or (context.title_hits and
                                                 in_title >= context.title_hits):
                active.add(context.id)
        return active

    def position_weight(self, hit: Hit) -> float:
        scoring = self.wl.scoring
        if hit.field == "title":
            return scoring.title
        if hit.start < scoring.lead_chars:
            return scoring.lead
        return scoring.body if hit.start < scoring.deep_chars else scoring.deep

    def snippet(self, hit: Hit) -> str:
        return make_snippet(self.fields[hit.field], hit.start, hit.end)


_LOWER_CASE_WINDOW = 3
_PREVIOUS_WORD = re.compile(r"([^\W\d_]+)[ \t\u00a0]+\Z")


def _inside_longer(hit: Hit, spans: set[Hit]) -> bool:
    return any(o.field == hit.field and o.start <= hit.start and hit.end <= o.end
               and o.end - o.start > hit.end - hit.start for o in spans)


def make_snippet(value: str, start: int, end: int, width: int = _SNIPPET_WIDTH) -> str:
    """The words around [start, end) on one line, with an ellipsis where cut."""
    left = max(0, start - width)
    right = min(len(value), end + width)
    if left > 0:
        space = value.find(" ", left, start)
        left = space + 1 if space != -1 else left
    if right < len(value):
        space = value.rfind(" ", end, right)
        right = space if space != -1 else right
    body = " ".join(value[left:right].split())
    return ("…" if left > 0 else "") + body + ("…" if right < len(value) else "")


def _verdict(article: _Article, mentions: dict[str, list[Hit]],
             satisfied: list[tuple[Rule, list[Hit]]]) -> Match:
    wl = article.wl
    if not mentions and not satisfied:
        return Match(watchlist=wl.name, relevant=False, score=0.0)
    scoring = wl.scoring
    active = article.active_contexts()

    def tier_factor(tier: str) -> float:
        factor = 1.0
        spec = wl.tiers.get(tier)
        if spec and spec.requires and spec.requires not in active:
            factor *= spec.otherwise
        for context in wl.contexts:
            if context.id in active:
                factor *= context.damp.get(tier, 1.0)
        return factor

    evidence: list[Evidence] = []
    signals: list[float] = []
    for entity in wl.entities:
        hits = sorted(mentions.get(entity.id, ()), key=lambda h: (h.field != "title", h.start))
        if not hits:
            continue
        factor = entity.weight * tier_factor(entity.tier)
        repeat = 1 + scoring.repeat_bonus * min(len(hits) - 1, scoring.repeat_cap)
        signals.append(factor * max(article.position_weight(h) for h in hits) * repeat)
        evidence.extend(
            _evidence(article, "entity", entity.id, h, factor * article.position_weight(h))
            for h in hits[:scoring.evidence_per_entity])
    for rule, hits in satisfied:
        factor = rule.weight * tier_factor(rule.tier)
        best = max(hits, key=article.position_weight, default=None)
        signals.append(factor * (article.position_weight(best) if best else scoring.body))
        if best is not None:
            evidence.append(_evidence(article, "rule", rule.id, _span(best, hits), signals[-1]))
    strong = sum(1 for s in signals if s >= scoring.cooccurrence_min)
    bonus = scoring.cooccurrence_bonus * min(max(strong - 1, 0), scoring.cooccurrence_cap)
    score = sum(signals) + bonus
    evidence.sort(key=lambda e: (-e.weight, e.field != "title", e.start))
    return Match(watchlist=wl.name, relevant=score >= wl.threshold, score=round(score, 4),
                 evidence=tuple(evidence), entities=_mentions(mentions, satisfied))


def _span(best: Hit, hits: list[Hit], limit: int = 200) -> Hit:
    """The stretch of one field that a rule's hits cover, if it is short enough to show."""
    same = [h for h in hits if h.field == best.field and abs(h.start - best.start) <= limit]
    return Hit(best.field, min(h.start for h in same), max(h.end for h in same))


def _evidence(article: _Article, kind: str, ident: str, hit: Hit, weight: float) -> Evidence:
    return Evidence(kind=kind, id=ident, term=article.written(hit), field=hit.field,
                    start=hit.start, end=hit.end, snippet=article.snippet(hit),
                    weight=round(weight, 3))


def _mentions(mentions: dict[str, list[Hit]],
              satisfied: list[tuple[Rule, list[Hit]]]) -> tuple[EntityMention, ...]:
    """Per entity: mentions in title and text, first offset in the text (-1: title only).

    A rule tagged with an entity (a strike on a boat, say) counts as one mention of it.
    """
    found: dict[str, list[Hit]] = {k: list(v) for k, v in mentions.items()}
    extra: dict[str, int] = {}
    for rule, hits in satisfied:
        if rule.entity:
            extra[rule.entity] = extra.get(rule.entity, 0) + 1
            found.setdefault(rule.entity, []).extend(h for h in hits[:1])
    result = []
    for entity_id, hits in found.items():
        count = len(mentions.get(entity_id, ())) + extra.get(entity_id, 0)
        in_text = [h.start for h in hits if h.field == "text"]
        result.append(EntityMention(entity_id=entity_id, count=count,
                                    first_offset=min(in_text) if in_text else -1))
    return tuple(sorted(result, key=lambda m: m.entity_id))
