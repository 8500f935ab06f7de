"""Score newsmon's extraction against bare trafilatura on pages with ground truth.

A directory holds `manifest.json` (`{"items": [...]}`, the shape of the shared corpus):
each item names a `file` (optionally gzip-compressed) and either `expected_text`
(`ground_truth_type: "full_text"`) or `expected_with` / `expected_without` segments.
Both sides get the same page bytes and the same number of worker processes:

- ours: `ExtractPool` running `extract_article` (decode, trafilatura with our options and
  metadata, mojibake repair);
- bare: a plain multiprocessing pool running `trafilatura.extract(body)` with defaults.

Full text is scored with token-level precision, recall and F1 (bag of lower-cased word
tokens, averaged over pages); segments by hit rate (a `with` segment is a hit when it is
in the text, a `without` one when it is not; whitespace is normalised first).

    python -m pipeline.extract.evaluate DIR [--workers N] [--repeat N] [--json]

DIR may be a folder of corpora (the shared corpus's articles/): each is scored on its own,
with a line per language group (en, es, other) and the pages where newsmon loses most.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gzip
import json
import multiprocessing
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trafilatura

from pipeline.extract.page import (
    DATE_PARAMS,
    PRECISION_OPTIONS,
    RETRY_BELOW_CHARS,
    RETRY_BELOW_SHARE,
    RETRY_GAIN,
    RETRY_OPTIONS,
    ExtractError,
)
from pipeline.extract.pool import WARM_UP_PAGE, ExtractPool, pool_context
from pipeline.match.language import detect_language

TOKEN = re.compile(r"\w+")
LANGUAGE_GROUPS = ("en", "es")  # the languages newsmon's watchlists are in; the rest is "other"

evaluation = dataclass(frozen=True, slots=True, kw_only=True)


@evaluation
class Page:
    id: str
    body: bytes
    url: str | None
    kind: str  # "full_text" or "segments"
    expected_text: str = ""
    expected_with: tuple[str, ...] = ()
    expected_without: tuple[str, ...] = ()
    lang: str | None = None


@evaluation
class PageScore:
    id: str
    kind: str
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0
    hits_with: int = 0
    hits_without: int = 0
    failed: bool = False
    segments: int = 0
    lang: str = "other"  # language_group of the page

    @property
    def score(self) -> float:
        """One number per page: F1 for full text, the share of segments hit otherwise."""
        if self.kind == "full_text":
            return self.f1
        return (self.hits_with + self.hits_without) / self.segments if self.segments else 0.0


@evaluation
class SideScore:
    name: str
    pages: int
    failures: int
    full_text_pages: int
    precision: float
    recall: float
    f1: float
    segment_pages: int
    segments_with: int
    hits_with: int
    segments_without: int
    hits_without: int
    seconds: float

    @property
    def segment_hit_rate(self) -> float:
        total = self.segments_with + self.segments_without
        return (self.hits_with + self.hits_without) / total if total else 0.0

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


@evaluation
class EvalReport:
    directory: str
    workers: int
    ours: SideScore
    bare: SideScore
    options: dict[str, Any]
    page_scores: dict[str, tuple[PageScore, PageScore]]  # id -> (ours, bare)

    def as_json(self) -> dict[str, Any]:
        def side(score: SideScore) -> dict[str, Any]:
            return {
                **dataclasses.asdict(score),
                "segment_hit_rate": score.segment_hit_rate,
                "pages_per_s": score.pages_per_s,
            }

        return {
            "directory": self.directory,
            "workers": self.workers,
            "options": self.options,
            "ours": side(self.ours),
            "bare": side(self.bare),
            "languages": language_scores(self),
            "worst_pages": [
                {"id": o.id, "newsmon": o.score, "bare": b.score} for o, b in worst_pages(self)
            ],
        }


def load_pages(directory: Path) -> list[Page]:
    """The pages listed in DIR/manifest.json, bodies decompressed if gzipped.

    The shared corpus keeps some datasets in the articles folder's manifest (their files
    named `scrapinghub-aeb/html/...`) and gives others their own manifest whose files are
    named from that folder too (`readability/html/...`). So a DIR without a manifest takes
    its items from the parent's, and a file is looked for beside the manifest, then one
    level up.
    """
    manifest, prefix = directory / "manifest.json", ""
    if not manifest.is_file() and (directory.parent / "manifest.json").is_file():
        manifest, prefix = directory.parent / "manifest.json", directory.name + "/"
    if not manifest.is_file():
        raise FileNotFoundError(f"eval-extract: {directory / 'manifest.json'} not found")
    items = json.loads(manifest.read_text(encoding="utf-8"))
    items = items["items"] if isinstance(items, dict) else items
    pages = []
    for item in items:
        if not item["file"].startswith(prefix):
            continue
        path = manifest.parent / item["file"]
        if not path.is_file():
            path = manifest.parent.parent / item["file"]
        raw = path.read_bytes()
        pages.append(
            Page(
                id=str(item.get("id") or item["file"]),
                body=gzip.decompress(raw) if item["file"].endswith(".gz") else raw,
                url=item.get("url") or item.get("url_from_page"),
                kind=item.get("ground_truth_type") or "full_text",
                expected_text=item.get("expected_text") or "",
                expected_with=tuple(item.get("expected_with") or ()),
                expected_without=tuple(item.get("expected_without") or ()),
                lang=item.get("html_lang") or item.get("lang") or _detected_language(item),
            )
        )
    return pages


def _detected_language(item: dict[str, Any]) -> str | None:
    # A page that declares no language is grouped by what it is written in, as the
    # pipeline does (ingest.judge): an undeclared Spanish page is a Spanish page.
    return detect_language(item.get("expected_text") or " ".join(item.get("expected_with") or ()))


def corpus_dirs(directory: Path) -> list[Path]:
    """The corpora in DIR: each subfolder with pages (see load_pages), else DIR itself."""
    listed = directory / "manifest.json"
    items = json.loads(listed.read_text(encoding="utf-8")) if listed.is_file() else []
    items = items["items"] if isinstance(items, dict) else items
    prefixes = {item["file"].split("/", 1)[0] for item in items if "/" in item["file"]}
    found = [
        sub for sub in sorted(directory.iterdir())
        if sub.is_dir() and ((sub / "manifest.json").is_file() or sub.name in prefixes)
    ]
    return found or [directory]


def tokens(text: str) -> Counter[str]:
    return Counter(TOKEN.findall(text.lower()))


def token_scores(predicted: str, expected: str) -> tuple[float, float, float]:
    """Token-level (precision, recall, F1) of predicted text against the expected text."""
    pred, gold = tokens(predicted), tokens(expected)
    overlap = sum((pred & gold).values())
    if not overlap:
        return 0.0, 0.0, 0.0
    precision, recall = overlap / sum(pred.values()), overlap / sum(gold.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


def _squash(text: str) -> str:
    return " ".join(text.split())


def language_group(lang: str | None) -> str:
    """"en", "es" or "other" for a page's declared language ("en-us" -> "en")."""
    primary = (lang or "").split("-")[0].split("_")[0].strip().lower()
    return primary if primary in LANGUAGE_GROUPS else "other"


def score_page(page: Page, text: str | None) -> PageScore:
    failed = not text
    text = text or ""
    lang = language_group(page.lang)
    if page.kind == "full_text":
        precision, recall, f1 = token_scores(text, page.expected_text)
        return PageScore(
            id=page.id, kind=page.kind, precision=precision, recall=recall, f1=f1,
            failed=failed, lang=lang,
        )
    squashed = _squash(text)
    return PageScore(
        id=page.id,
        kind=page.kind,
        hits_with=sum(_squash(s) in squashed for s in page.expected_with),
        hits_without=sum(_squash(s) not in squashed for s in page.expected_without),
        failed=failed,
        segments=len(page.expected_with) + len(page.expected_without),
        lang=lang,
    )



def summarise(name: str, pages: list[Page], scores: list[PageScore], seconds: float) -> SideScore:
    full = [s for s in scores if s.kind == "full_text"]
    segment_pages = [p for p in pages if p.kind == "segments"]
    segment_scores = [s for s in scores if s.kind == "segments"]

    def mean(values: Iterable[float]) -> float:
        values = list(values)
        return sum(values) / len(values) if values else 0.0

    return SideScore(
        name=name,
        pages=len(scores),
        failures=sum(s.failed for s in scores),
        full_text_pages=len(full),
        precision=mean(s.precision for s in full),
        recall=mean(s.recall for s in full),
        f1=mean(s.f1 for s in full),
        segment_pages=len(segment_pages),
        segments_with=sum(len(p.expected_with) for p in segment_pages),
        hits_with=sum(s.hits_with for s in segment_scores),
        segments_without=sum(len(p.expected_without) for p in segment_pages),
        hits_without=sum(s.hits_without for s in segment_scores),
        seconds=seconds,
    )


# --- the two sides --------------------------------------------------------------------


async def _run_ours(pages: list[Page], *, workers: int, timeout_s: float) -> tuple[list, float]:
    async def one(pool: ExtractPool, page: Page) -> str | None:
        try:
            article = await pool.extract(page.body, url=page.url or "", content_type=None)
        except ExtractError:
            return None
        return article.text

    async with ExtractPool(workers, timeout_s) as pool:
        await pool.wait_ready()
        started = time.perf_counter()
        texts = await asyncio.gather(*(one(pool, page) for page in pages))
        return list(texts), time.perf_counter() - started


def _bare_extract(job: tuple[bytes, str | None]) -> str | None:
    body, url = job
    return trafilatura.extract(body, url=url)


def _bare_init(barrier: Any) -> None:
    trafilatura.extract(WARM_UP_PAGE)  # same warm-up as our workers get
    barrier.wait()


def _run_bare(pages: list[Page], *, workers: int) -> tuple[list, float]:
    context = pool_context()
    barrier = context.Barrier(workers + 1)
    with context.Pool(workers, initializer=_bare_init, initargs=(barrier,)) as pool:
        barrier.wait()  # every worker has started and warmed up
        started = time.perf_counter()
        texts = pool.map(_bare_extract, [(p.body, p.url) for p in pages], chunksize=1)
        return texts, time.perf_counter() - started


def evaluate_dir(directory: str | Path, *, workers: int = 2, repeat: int = 1) -> EvalReport:
    """Score our extraction path and bare trafilatura side by side on DIR's pages."""
    directory = Path(directory)
    return evaluate_pages(load_pages(directory), workers=workers, repeat=repeat,
                          label=str(directory))


def evaluate_pages(
    pages: list[Page], *, workers: int = 2, repeat: int = 1, label: str = ""
) -> EvalReport:
    """Score both sides on these pages; with repeat > 1 the fastest run's time counts.

    Extraction is deterministic, so repeats only steady the speed figure on a busy machine.
    """
    our_seconds = bare_seconds = float("inf")
    for _ in range(max(1, repeat)):
        our_texts, seconds = asyncio.run(_run_ours(pages, workers=workers, timeout_s=120.0))
        our_seconds = min(our_seconds, seconds)
        bare_texts, seconds = _run_bare(pages, workers=workers)
        bare_seconds = min(bare_seconds, seconds)
    ours = [score_page(p, t) for p, t in zip(pages, our_texts, strict=True)]
    bare = [score_page(p, t) for p, t in zip(pages, bare_texts, strict=True)]
    return EvalReport(
        directory=label,
        workers=workers,
        ours=summarise("newsmon", pages, ours, our_seconds),
        bare=summarise("bare trafilatura", pages, bare, bare_seconds),
        options={
            "first": PRECISION_OPTIONS,
            f"retry below {RETRY_BELOW_CHARS} chars or {RETRY_BELOW_SHARE:.0%} of <p> text,"
            f" kept if {RETRY_GAIN}x longer": RETRY_OPTIONS,
            "date_params": DATE_PARAMS,
        },
        page_scores={p.id: (o, b) for p, o, b in zip(pages, ours, bare, strict=True)},
    )


def language_scores(report: EvalReport) -> dict[str, dict[str, float]]:
    """Per language group: page counts, each side's mean F1 and segment hit rate."""
    groups: dict[str, dict[str, float]] = {}
    for lang in (*LANGUAGE_GROUPS, "other"):
        pairs = [(o, b) for o, b in report.page_scores.values() if o.lang == lang]
        if not pairs:
            continue
        full = [(o, b) for o, b in pairs if o.kind == "full_text"]
        segmented = [(o, b) for o, b in pairs if o.kind == "segments"]
        segments = sum(o.segments for o, _ in segmented)
        group: dict[str, float] = {"pages": len(pairs), "full_text_pages": len(full)}
        for side, name in ((0, "newsmon"), (1, "bare")):
            group[f"f1_{name}"] = sum(p[side].f1 for p in full) / len(full) if full else 0.0
            hits = sum(p[side].hits_with + p[side].hits_without for p in segmented)
            group[f"segment_hit_rate_{name}"] = hits / segments if segments else 0.0
        groups[lang] = group
    return groups


def worst_pages(report: EvalReport, *, count: int = 5) -> list[tuple[PageScore, PageScore]]:
    """The pages where newsmon scores most below bare (F1, or segment hit share), worst first."""
    losses = [(o, b) for o, b in report.page_scores.values() if o.score < b.score]
    return sorted(losses, key=lambda pair: pair[0].score - pair[1].score)[:count]


def format_report(report: EvalReport, *, worst: int = 5) -> str:
    """A plain-text table of both sides, per language, then the pages where ours loses most."""
    rows = [
        ("full-text pages", "full_text_pages", "{:d}"),
        ("  precision", "precision", "{:.4f}"),
        ("  recall", "recall", "{:.4f}"),
        ("  F1", "f1", "{:.4f}"),
        ("segment pages", "segment_pages", "{:d}"),
        ("  must-contain hits", None, None),
        ("  must-not-contain hits", None, None),
        ("  segment hit rate", "segment_hit_rate", "{:.4f}"),
        ("failed pages", "failures", "{:d}"),
        ("seconds", "seconds", "{:.2f}"),
        ("pages/s", "pages_per_s", "{:.1f}"),
    ]
    out = [
        f"eval-extract {report.directory}: {report.ours.pages} pages,"
        + f" {report.workers} worker processes each",
        f"newsmon options: {report.options}",
        f"{'':26}{'newsmon':>12}{'bare':>12}",
    ]
    for label, attr, fmt in rows:
        if attr is None:
            kind = "with" if "must-contain" in label else "without"
            cells = [
                f"{getattr(s, 'hits_' + kind)}/{getattr(s, 'segments_' + kind)}"
                for s in (report.ours, report.bare)
            ]
        else:
            cells = [fmt.format(getattr(s, attr)) for s in (report.ours, report.bare)]
        out.append(f"{label:26}{cells[0]:>12}{cells[1]:>12}")
    gap = report.ours.f1 - report.bare.f1
    out.append(f"F1 difference (newsmon - bare): {gap * 100:+.2f} points")
    for lang, group in language_scores(report).items():
        line = f"  {lang:5} {group['pages']:4.0f} pages:"
        if group["full_text_pages"]:
            line += f" F1 {group['f1_newsmon']:.4f} vs {group['f1_bare']:.4f} bare"
        if group["pages"] > group["full_text_pages"]:
            line += (f" segment hit rate {group['segment_hit_rate_newsmon']:.4f}"
                     f" vs {group['segment_hit_rate_bare']:.4f} bare")
        out.append(line)
    losses = worst_pages(report, count=worst)
    if losses:
        out.append("pages where newsmon loses most against bare: " + ", ".join(
            f"{o.id[:24]} ({o.score:.3f} vs {b.score:.3f})" for o, b in losses))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.extract.evaluate", description=__doc__)
    parser.add_argument("directory", type=Path,
                        help="a corpus, or a folder of corpora (each is scored on its own)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="runs per side; the fastest counts")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    args = parser.parse_args(argv)
    try:
        reports = [
            evaluate_dir(corpus, workers=args.workers, repeat=args.repeat)
            for corpus in corpus_dirs(args.directory)
        ]
    except (FileNotFoundError, KeyError, ValueError) as exc:
        print(f"eval-extract: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([r.as_json() for r in reports], indent=2))
    else:
        print("\n\n".join(format_report(r) for r in reports))
    return 0


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
