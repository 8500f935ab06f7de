"""Duplicate detection: canonical URLs, exact-text fingerprints, MinHash near-duplicates.

Pure functions only; the band table and the lookups that use these keys live in the
store. Three levels, cheapest first:

* ``canonical_url`` folds the many URLs of one page (tracking parameters, AMP and
  mobile variants, the page's own ``rel=canonical``) into one key;
* ``text_fingerprint`` catches exact copies whose text differs only in case,
  spacing, punctuation or accents;
* ``minhash_signature`` + ``lsh_bands`` find syndicated copies (edited lead, dropped
  paragraphs, different headline) across outlets; ``is_near_duplicate`` confirms a
  candidate. The parameters were tuned on ``tests/data/dup_pairs.jsonl``; see the
  "Dedup" section of ``docs/decisions.md`` for the figures.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache
from urllib.parse import SplitResult, parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import numpy as np
from courlan import normalize_url

from pipeline.models import record
from pipeline.urls import registrable_domain, site_of

logger = logging.getLogger(__name__)

# --- near-duplicate parameters (tuned; see docs/decisions.md "Dedup") -------------------------

SHINGLE_SIZE = 4  # words per shingle
NUM_PERM = 256  # MinHash values per signature; all of them feed the similarity estimate
LSH_BANDS = 32  # band keys stored per article...
LSH_ROWS = 2  # ...of 2 values each, cut from the first 64: copies at similarity 0.3 meet 94%
NEAR_DUPLICATE_THRESHOLD = 0.27  # estimated Jaccard similarity of the 4-word shingle sets

# Stored signatures and band keys are only comparable when these never change: pin them
# rather than inherit datasketch's defaults (its 2.0 release changed the default scheme).
MINHASH_SEED = 1
MINHASH_SCHEME = "affine32"
_EMPTY_HASH = np.iinfo(np.uint32).max  # the value of every slot of a MinHash of no shingles

# --- canonical URLs --------------------------------------------------------------------------

# courlan already drops utm_*, fbclid, gclid, dclid, msclkid, mc_*, _ga, igshid, ref*, xtor,
# *campaign*, *source* ...; these are the tracking parameters it lets through.
_TRACKING_PARAMS = frozenset(
    {
        "cmp", "cmpid", "ocid", "ncid", "icid", "smid", "smtyp", "sr_share", "soc_src",
        "soc_trk", "ito", "mbid", "spm", "s_kwcid", "ef_id", "ttclid", "li_fat_id", "_hsenc",
        "_hsmi", "__twitter_impression", "guccounter", "tpcc", "taid", "share", "shared",
        "fromrss", "rss", "cmpgn", "intcmp", "int_cmp", "wprss", "dicbo", "ssm",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "ns_", "at_", "wt.", "wt_", "pk_", "hsa_", "trk")
_AMP_PARAMS = frozenset({"amp", "_amp", "usqp"})  # usqp: Google's AMP cache marker
_AMP_VALUED_PARAMS = frozenset({"outputtype", "output", "format"})  # ...=amp
_MOBILE_HOST_PREFIXES = ("m.", "mobile.", "amp.")
_AMP_SUFFIX = re.compile(r"\.amp(?=\.html?$)|\.amp$", re.IGNORECASE)


def canonical_url(url: str, *, page_canonical: str | None = None) -> str:
    """The one URL every variant of a page folds into.

    Lower-cases scheme and host, drops user info, default ports, fragments, a trailing
    slash, tracking and AMP query parameters, sorts the query, folds AMP paths
    (``/amp/``, ``.amp.html``) and mobile/AMP hosts (``m.``, ``mobile.``, ``amp.`` become
    ``www.``). ``page_canonical`` (the page's ``<link rel=canonical>`` or ``og:url``,
    possibly relative) wins when it is on the same registrable site and is not the home
    page. Never raises: input that is not an absolute http(s) URL is returned stripped
    of surrounding whitespace (non-strings give ``""``), so the result is always a usable
    key and ``canonical_url(canonical_url(u)) == canonical_url(u)``.
    """
    if not isinstance(url, str):
        return ""
    own = _try(_normalise_url, url)
    if own is None:
        return url.strip()
    if isinstance(page_canonical, str) and page_canonical.strip():
        preferred = _try(_same_site_canonical, own, page_canonical, url.strip())
        if preferred is not None:
            return preferred
    return own


def _try(step: Callable[..., str | None], *args: str) -> str | None:
    # canonical_url must hand back a key whatever the page gave us
    try:
        return step(*args)
    except Exception:
        logger.debug("dedup: cannot normalise URL %r", args, exc_info=True)
        return None


def _normalise_url(url: str) -> str | None:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in ("http", "https") or not host or not _is_plausible_host(host):
        return None
    netloc = f"[{host}]" if ":" in host else host
    port = parts.port  # ValueError on a bad port: caller returns the input
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        netloc = f"{netloc}:{port}"
    # courlan: lower-case + punycode host, collapse "//" and leading "/..", quote the
    # path, drop its known trackers and sort the query.
    cleaned = urlsplit(normalize_url(SplitResult(scheme, netloc, parts.path, parts.query, "")))
    path = _strip_amp_path(cleaned.path)
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return urlunsplit(
        (
            cleaned.scheme,
            _desktop_host(cleaned.netloc),
            path or "/",
            _strip_tracking_query(cleaned.query),
            "",
        )
    )


_HOST_FORBIDDEN = re.compile(r"[\s/\\?#@%\[\]<>\"'`{}|^]")


def _is_plausible_host(host: str) -> bool:
    return not _HOST_FORBIDDEN.search(host) and ".." not in host and not host.startswith(".")


def _strip_amp_path(path: str) -> str:
    # loop: "/a.amp.amp.html" and "/amp/x.amp" need more than one pass
    while True:
        segments = path.split("/")
        segments[-1] = _AMP_SUFFIX.sub("", segments[-1])
        kept = [s for s in segments if s.lower() != "amp"]
        stripped = "/".join(kept)
        if path.startswith("/") and not stripped.startswith("/"):
            stripped = "/" + stripped
        if stripped == path:
            return path
        path = stripped


def _desktop_host(netloc: str) -> str:
    host, sep, port = netloc.rpartition(":") if netloc.count(":") == 1 else (netloc, "", "")
    site = registrable_domain(host)
    if site is None:
        return netloc
    changed = False
    while host != site and host.startswith(_MOBILE_HOST_PREFIXES):
        host = host.split(".", 1)[1]
        changed = True
    if changed and host == site:
        host = f"www.{site}"  # where nearly every site serves its desktop pages
    return f"{host}{sep}{port}"


def _strip_tracking_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _is_tracking_param(k.lower(), v.lower())]
    return urlencode(kept)


def _is_tracking_param(name: str, value: str) -> bool:
    return (
        name in _TRACKING_PARAMS
        or name.startswith(_TRACKING_PREFIXES)
        or name in _AMP_PARAMS
        or (name in _AMP_VALUED_PARAMS and value == "amp")
    )


def _same_site_canonical(own: str, page_canonical: str, base: str) -> str | None:
    candidate = _normalise_url(urljoin(base, page_canonical.strip()))
    if candidate is None or site_of(candidate) != site_of(own):
        return None  # a cross-site canonical names the original, not this copy
    parts = urlsplit(candidate)
    if parts.path == "/" and not parts.query:
        return None  # CMS default pointing every page at the home page
    return candidate


# --- text fingerprints and MinHash -----------------------------------------------------------

_NON_WORD = re.compile(r"[\W_]+")


def normalise_text(text: str) -> str:
    """Lower-case words without accents, punctuation or extra spaces: what copies share."""
    decomposed = unicodedata.normalize("NFKD", text)
    unaccented = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", unaccented.casefold()).strip()


def text_fingerprint(text: str) -> str:
    """Hex digest of the normalised text: equal for copies that differ only in case,
    spacing, punctuation or accents. Callers should not key on the fingerprint of an
    empty text (every empty page has the same one)."""
    return normalised_fingerprint(normalise_text(text))


def normalised_fingerprint(normalised: str) -> str:
    """text_fingerprint of a text already through normalise_text."""
    return hashlib.blake2b(normalised.encode(), digest_size=16).hexdigest()


def shingles(text: str, *, size: int = SHINGLE_SIZE) -> set[bytes]:
    """Overlapping runs of ``size`` words; a text shorter than that is one shingle."""
    return word_shingles(normalise_text(text).split(), size=size)


def word_shingles(words: list[str], *, size: int = SHINGLE_SIZE) -> set[bytes]:
    """shingles of a text already normalised and split into words."""
    if len(words) <= size:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


@lru_cache(maxsize=64)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # generating the permutations costs more than hashing a whole article
    from datasketch import MinHash  # pulls in scipy: seconds, so only when hashing

    return MinHash(num_perm=num_perm, seed=seed, scheme=MINHASH_SCHEME).permutations


def minhash_signature(
    text: str,
    *,
    num_perm: int = NUM_PERM,
    shingle_size: int = SHINGLE_SIZE,
    seed: int = MINHASH_SEED,
) -> np.ndarray:
    """MinHash of the text's word shingles: ``num_perm`` uint32 values (they fit a bigint
    column). A text with no words gives the empty signature, which matches nothing.
    Signatures are comparable only with equal ``num_perm``, ``shingle_size`` and ``seed``;
    change those only to evaluate, never for stored signatures."""
    return shingles_signature(shingles(text, size=shingle_size), num_perm=num_perm, seed=seed)


def shingles_signature(
    shingle_set: set[bytes], *, num_perm: int = NUM_PERM, seed: int = MINHASH_SEED
) -> np.ndarray:
    """minhash_signature of a text's shingles, already computed."""
    from datasketch import MinHash

    minhash = MinHash(
        num_perm=num_perm, permutations=_permutations(num_perm, seed), scheme=MINHASH_SCHEME
    )
    minhash.update_batch(sorted(shingle_set))
    return minhash.hashvalues.copy()


def is_empty_signature(signature: Sequence[int] | np.ndarray) -> bool:
    return bool(np.all(np.asarray(signature, dtype=np.uint64) == _EMPTY_HASH))


def lsh_bands(
    signature: Sequence[int] | np.ndarray, *, bands: int = LSH_BANDS, rows: int = LSH_ROWS
) -> list[int]:
    """One signed 64-bit key (a PostgreSQL bigint) per band of ``rows`` values.

    The band index is hashed into the key, so one indexed column holds every band and
    two texts are LSH candidates when they share any key. The empty signature has none.
    """
    values = np.asarray(signature, dtype=np.uint64)
    if bands < 1 or rows < 1 or bands * rows > len(values):
        raise ValueError(
            f"dedup: {bands} bands x {rows} rows exceed a {len(values)}-value signature"
        )
    if is_empty_signature(values):
        return []
    raw = values[: bands * rows].astype("<u4").reshape(bands, rows)
    keys = []
    for index, band in enumerate(raw):
        digest = hashlib.blake2b(
            index.to_bytes(2, "little") + band.tobytes(), digest_size=8
        ).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys


def estimate_similarity(
    sig_a: Sequence[int] | np.ndarray, sig_b: Sequence[int] | np.ndarray
) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets (0.0 if either is empty)."""
    a = np.asarray(sig_a, dtype=np.uint64)
    b = np.asarray(sig_b, dtype=np.uint64)
    if a.shape != b.shape:
        raise ValueError(f"dedup: signatures differ in length ({len(a)} vs {len(b)})")
    if is_empty_signature(a) or is_empty_signature(b):
        return 0.0
    return float(np.count_nonzero(a == b)) / len(a)


def is_near_duplicate(
    sig_a: Sequence[int] | np.ndarray,
    sig_b: Sequence[int] | np.ndarray,
    *,
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
) -> bool:
    """True when two signatures are copies of one story (see NEAR_DUPLICATE_THRESHOLD)."""
    return estimate_similarity(sig_a, sig_b) >= threshold


# --- what the store looks a text up by -------------------------------------------------

# Phase-1 tuning used texts of 150+ words; below ~100 the few shingles give an estimate
# too noisy to merge on, so short texts rely on the exact fingerprint only.
MIN_WORDS_FOR_NEAR_DUPLICATES = 100


@record
class TextKeys:
    """What the store looks a text up by, from one pass over it. CPU-bound: the cycle's
    extraction workers compute it, outside any database lock."""

    fingerprint: str  # text_fingerprint
    words: int
    signature: np.ndarray | None  # None for texts too short for near-duplicate search
    bands: tuple[int, ...]  # lsh_bands of the signature


def text_keys(text: str) -> TextKeys:
    normalised = normalise_text(text)
    words = normalised.split()
    signature = None
    if len(words) >= MIN_WORDS_FOR_NEAR_DUPLICATES:
        signature = shingles_signature(word_shingles(words))
    return TextKeys(fingerprint=normalised_fingerprint(normalised), words=len(words),
                    signature=signature,
                    bands=tuple(lsh_bands(signature)) if signature is not None else ())
