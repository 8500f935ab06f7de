"""All settings in one place, each overridable by an environment variable.

Nothing is read at import time: call `load_settings()` where a run starts and
pass the result down.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.errors import ConfigurationError

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_SOURCES_FILE = PACKAGE_DIR / "data" / "sources.toml"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    home: Path
    database_url: str | None  # None: start the embedded server under home/pg
    # What `newsmon sql`, `search` and `export` log in as; None: database_url's server and
    # database with the reader login (pipeline.store.connection.reader_database_url).
    reader_url: str | None = None
    sources_file: Path
    watchlist: str = "venezuela"
    user_agent: str = "newsmon/0.1 (+https://github.com/newsmon/newsmon; news monitoring bot)"
    concurrency: int = 32
    per_host_concurrency: int = 2
    per_host_delay_s: float = 0.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    request_deadline_s: float = 60.0
    max_response_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 2
    retry_backoff_s: float = 0.5  # first backoff; doubles per attempt, with jitter
    retry_after_max_s: float = 60.0  # a longer Retry-After gives up (retryable) instead of sleeping
    allow_private_networks: bool = False
    allowed_networks: tuple[str, ...] = ()  # CIDRs reachable despite the SSRF guard (intranet feeds)
    allowed_ports: tuple[str, ...] = ()  # ports besides 80 and 443 open on public hosts
    respect_robots: bool = True
    extract_workers: int = 0  # 0: one per core
    extract_timeout_s: float = 30.0
    # Address space of each extraction/parse worker (0: no limit). A hostile 5 MB page of
    # 50,000 small blocks peaks at 0.8 GB in trafilatura; past the limit that page fails
    # alone instead of the machine running out of memory.
    worker_memory_mb: int = 2048
    # Per-source schedule: a source's interval follows how often it publishes, within
    # [min, max]; failures back off from min; after `poll_failing_after` failures in a row
    # the source is "failing" and polled every `poll_failing_interval_s` only.
    poll_min_interval_s: float = 300.0
    poll_max_interval_s: float = 6 * 3600.0
    poll_failing_after: int = 10
    poll_failing_interval_s: float = 24 * 3600.0
    poll_max_items: int = 500  # newest entries kept per poll; older ones are archive, not news
    newsapi_key: str | None = None  # NewsAPI sources are skipped (and logged) without it
    guardian_key: str | None = None  # Guardian content API sources: likewise
    # Google News links issued since mid-2024 carry an opaque id only Google can map to the
    # publisher URL (pipeline/sources/google_news.py). At most this many ids are looked up
    # per cycle (two requests each); the rest wait for the next cycle. 0: never look up.
    google_news_resolve_per_cycle: int = 50
    google_news_interval_s: float = 1.0  # between request starts to Google News, any kind
    google_news_url: str = "https://news.google.com"  # where the lookups go (tests: loopback)
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_security: str = "none"  # none | starttls | ssl
    smtp_user: str | None = None
    smtp_password: str | None = None
    mail_from: str = "newsmon <alerts@localhost>"
    public_url: str = "http://localhost:8025"  # http only for loopback; see check_public_url
    allow_http_public_url: bool = False  # local development on a LAN host, never production
    secret_key: str = ""  # signs unsubscribe links; see _home_secret_key and check_secret_key
    alert_window_hours: float = 24.0
    # An immediate alert waits this long for the subscriber's other news, so one email
    # carries them all; 0: sent at the next `alerts send`.
    alert_batch_minutes: float = 5.0
    raw_retention_days: float = 90.0  # raw responses kept for `newsmon reextract`

    @property
    def pg_data_dir(self) -> Path:
        return self.home / "pg"

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)


# env variable -> (field, parser)
_ENV: dict[str, tuple[str, type]] = {
    "NEWSMON_DATABASE_URL": ("database_url", str),
    "NEWSMON_READER_URL": ("reader_url", str),
    "NEWSMON_SOURCES": ("sources_file", Path),
    "NEWSMON_WATCHLIST": ("watchlist", str),
    "NEWSMON_USER_AGENT": ("user_agent", str),
    "NEWSMON_CONCURRENCY": ("concurrency", int),
    "NEWSMON_PER_HOST_CONCURRENCY": ("per_host_concurrency", int),
    "NEWSMON_PER_HOST_DELAY": ("per_host_delay_s", float),
    "NEWSMON_CONNECT_TIMEOUT": ("connect_timeout_s", float),
    "NEWSMON_READ_TIMEOUT": ("read_timeout_s", float),
    "NEWSMON_REQUEST_DEADLINE": ("request_deadline_s", float),
    "NEWSMON_MAX_RESPONSE_BYTES": ("max_response_bytes", int),
    "NEWSMON_MAX_REDIRECTS": ("max_redirects", int),
    "NEWSMON_RETRIES": ("retries", int),
    "NEWSMON_RETRY_BACKOFF": ("retry_backoff_s", float),
    "NEWSMON_RETRY_AFTER_MAX": ("retry_after_max_s", float),
    "NEWSMON_ALLOW_PRIVATE_NETWORKS": ("allow_private_networks", bool),
    "NEWSMON_ALLOWED_NETWORKS": ("allowed_networks", tuple),  # comma-separated CIDRs
    "NEWSMON_ALLOWED_PORTS": ("allowed_ports", tuple),  # comma-separated port numbers
    "NEWSMON_RESPECT_ROBOTS": ("respect_robots", bool),
    "NEWSMON_EXTRACT_WORKERS": ("extract_workers", int),
    "NEWSMON_EXTRACT_TIMEOUT": ("extract_timeout_s", float),
    "NEWSMON_WORKER_MEMORY_MB": ("worker_memory_mb", int),
    "NEWSMON_POLL_MIN_INTERVAL": ("poll_min_interval_s", float),
    "NEWSMON_POLL_MAX_INTERVAL": ("poll_max_interval_s", float),
    "NEWSMON_POLL_FAILING_AFTER": ("poll_failing_after", int),
    "NEWSMON_POLL_FAILING_INTERVAL": ("poll_failing_interval_s", float),
    "NEWSMON_POLL_MAX_ITEMS": ("poll_max_items", int),
    "NEWSMON_NEWSAPI_KEY": ("newsapi_key", str),
    "NEWSMON_GUARDIAN_KEY": ("guardian_key", str),
    "NEWSMON_GOOGLE_NEWS_RESOLVE_PER_CYCLE": ("google_news_resolve_per_cycle", int),
    "NEWSMON_GOOGLE_NEWS_INTERVAL": ("google_news_interval_s", float),
    "NEWSMON_GOOGLE_NEWS_URL": ("google_news_url", str),
    "NEWSMON_SMTP_HOST": ("smtp_host", str),
    "NEWSMON_SMTP_PORT": ("smtp_port", int),
    "NEWSMON_SMTP_SECURITY": ("smtp_security", str),
    "NEWSMON_SMTP_USER": ("smtp_user", str),
    "NEWSMON_SMTP_PASSWORD": ("smtp_password", str),
    "NEWSMON_MAIL_FROM": ("mail_from", str),
    "NEWSMON_PUBLIC_URL": ("public_url", str),
    "NEWSMON_ALLOW_HTTP_PUBLIC_URL": ("allow_http_public_url", bool),
    "NEWSMON_SECRET_KEY": ("secret_key", str),
    "NEWSMON_ALERT_WINDOW_HOURS": ("alert_window_hours", float),
    "NEWSMON_ALERT_BATCH_MINUTES": ("alert_batch_minutes", float),
    "NEWSMON_RAW_RETENTION_DAYS": ("raw_retention_days", float),
}


def _parse(kind: type, raw: str) -> object:
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return kind(raw)


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from defaults, then the environment, then explicit overrides."""
    env = os.environ if env is None else env
    home = Path(env.get("NEWSMON_HOME") or Path.home() / ".local" / "share" / "newsmon")
    values: dict[str, object] = {
        "home": home.expanduser(),
        "database_url": None,
        "sources_file": DEFAULT_SOURCES_FILE,
    }
    for name, (field_name, kind) in _ENV.items():
        raw = env.get(name)
        if raw not in (None, ""):
            try:
                values[field_name] = _parse(kind, raw)
            except ValueError as exc:
                raise ValueError(f"config: {name}={raw!r} is not a valid {kind.__name__}") from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("smtp_security", "none") not in {"none", "starttls", "ssl"}:
        raise ValueError("config: NEWSMON_SMTP_SECURITY must be none, starttls or ssl")
    if not values.get("secret_key"):
        values["secret_key"] = _home_secret_key(values["home"])  # type: ignore[arg-type]
    return Settings(**values)  # type: ignore[arg-type]


MIN_SECRET_KEY_BYTES = 32
# Placeholders seen in examples and tutorials, compared without case or punctuation.
_PLACEHOLDER_KEYS = frozenset({
    "changeme", "change", "secret", "secretkey", "password", "passwd", "test", "testing",
    "default", "example", "key", "newsmon", "replaceme", "placeholder", "insecure", "dev",
    "development", "admin", "letmein", "qwerty", "12345678",
})
_PLACEHOLDER_MARKERS = ("changeme", "replaceme", "placeholder", "yoursecret")


class SecretKeyError(ConfigurationError):
    """The secret key is missing, a placeholder, or too weak to sign links with."""


def check_secret_key(key: str, *, source: str = "NEWSMON_SECRET_KEY") -> None:
    """Refuse a key anyone could guess: links signed with it could be forged for anyone.

    Raises SecretKeyError naming `source` (the variable or file the key came from).
    """
    normal = re.sub(r"[^a-z0-9]", "", key.lower())
    if not key.strip():
        why = "empty"
    elif normal in _PLACEHOLDER_KEYS or any(m in normal for m in _PLACEHOLDER_MARKERS):
        why = "a placeholder"
    elif re.fullmatch(r"(.+?)\1+", key, flags=re.DOTALL):
        why = "one short string repeated"  # "aaaa...", "changemechangeme..."
    elif len(key.encode()) < MIN_SECRET_KEY_BYTES:
        why = f"shorter than {MIN_SECRET_KEY_BYTES} bytes"
    else:
        return
    raise SecretKeyError(
        f"config: {source} is {why}; it signs the unsubscribe and preferences links, so "
        f"anyone who guesses it can forge them. Use {MIN_SECRET_KEY_BYTES}+ random bytes "
        "(`openssl rand -hex 32`), or leave NEWSMON_SECRET_KEY unset to use the key newsmon "
        "keeps in NEWSMON_HOME/secret.key")


def check_public_url(settings: Settings) -> None:
    """Links in emails must be https (RFC 8058, Gmail and Yahoo), except on this machine."""
    parts = urlsplit(settings.public_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"config: NEWSMON_PUBLIC_URL={settings.public_url!r} is not an "
                         "http(s) URL with a host")
    if parts.scheme == "http" and not (is_loopback_host(parts.hostname)
                                       or settings.allow_http_public_url):
        raise ValueError(
            f"config: NEWSMON_PUBLIC_URL={settings.public_url!r} is http; unsubscribe links must "
            "be https (RFC 8058; Gmail and Yahoo ignore others). Serve `newsmon serve` behind "
            "TLS, or set NEWSMON_ALLOW_HTTP_PUBLIC_URL=1 for local development only")


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_link_settings(settings: Settings) -> None:
    """What the links in emails need: a strong secret key and an https public URL.

    Called where links are signed or read (sending alerts and digests, `newsmon serve`),
    so a weak setting stops the run before any email or page goes out.
    """
    check_secret_key(settings.secret_key)
    check_public_url(settings)


def _home_secret_key(home: Path) -> str:
    """A random key kept in NEWSMON_HOME, so links cannot be forged out of the box.

    Several machines sending mail must share one key: set NEWSMON_SECRET_KEY there.
    """
    path = home / "secret.key"
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = _create_secret_key(path)
    except (UnicodeDecodeError, OSError) as exc:
        raise SecretKeyError(f"config: cannot read {path}: {exc}") from exc
    try:
        check_secret_key(key, source=str(path))
    except SecretKeyError as exc:
        # A short file is a crash mid-write (or a hand edit), never a key to trust.
        raise SecretKeyError(f"{exc}. The file looks corrupt: delete it to make a new key "
                             "(links already sent stop working)") from None
    return key


def _create_secret_key(path: Path) -> str:
    """Write a new key whole or not at all; if another process got there first, use theirs.

    The key goes to a private temp file, is flushed to disk, then hard-linked to its name:
    link() fails if the name exists, so exactly one process wins and nobody ever reads a
    half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(MIN_SECRET_KEY_BYTES)
    fd, tmp = tempfile.mkstemp(prefix=".secret.key.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_text(encoding="ascii").strip()
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new name survives a power cut too
        finally:
            os.close(dir_fd)
        return key
    finally:
        os.unlink(tmp)
