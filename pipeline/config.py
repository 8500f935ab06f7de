"""All settings in one place, each overridable by an environment variable.

Nothing is read at import time: call `load_settings()` where a run starts and
pass the result down.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_SOURCES_FILE = PACKAGE_DIR / "data" / "sources.toml"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    home: Path
    database_url: str | None  # None: start the embedded server under home/pg
    # What `newsmon sql`, `search` and `export` log in as; None: database_url's server and
    # database with the reader login (pipeline.db.connection.reader_database_url).
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
    respect_robots: bool = True
    extract_workers: int = 0  # 0: one per core
    extract_timeout_s: float = 30.0
    # Per-source schedule: a source's interval follows how often it publishes, within
    # [min, max]; failures back off from min; after `poll_failing_after` failures in a row
    # the source is "failing" and polled every `poll_failing_interval_s` only.
    poll_min_interval_s: float = 300.0
    poll_max_interval_s: float = 6 * 3600.0
    poll_failing_after: int = 10
    poll_failing_interval_s: float = 24 * 3600.0
    poll_max_items: int = 500  # newest entries kept per poll; older ones are archive, not news
    newsapi_key: str | None = None  # NewsAPI sources are skipped (and logged) without it
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_security: str = "none"  # none | starttls | ssl
    smtp_user: str | None = None
    smtp_password: str | None = None
    mail_from: str = "newsmon <alerts@localhost>"
    public_url: str = "http://localhost:8025"
    secret_key: str = ""  # signs unsubscribe links; see _home_secret_key
    alert_window_hours: float = 24.0
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
    "NEWSMON_RESPECT_ROBOTS": ("respect_robots", bool),
    "NEWSMON_EXTRACT_WORKERS": ("extract_workers", int),
    "NEWSMON_EXTRACT_TIMEOUT": ("extract_timeout_s", float),
    "NEWSMON_POLL_MIN_INTERVAL": ("poll_min_interval_s", float),
    "NEWSMON_POLL_MAX_INTERVAL": ("poll_max_interval_s", float),
    "NEWSMON_POLL_FAILING_AFTER": ("poll_failing_after", int),
    "NEWSMON_POLL_FAILING_INTERVAL": ("poll_failing_interval_s", float),
    "NEWSMON_POLL_MAX_ITEMS": ("poll_max_items", int),
    "NEWSMON_NEWSAPI_KEY": ("newsapi_key", str),
    "NEWSMON_SMTP_HOST": ("smtp_host", str),
    "NEWSMON_SMTP_PORT": ("smtp_port", int),
    "NEWSMON_SMTP_SECURITY": ("smtp_security", str),
    "NEWSMON_SMTP_USER": ("smtp_user", str),
    "NEWSMON_SMTP_PASSWORD": ("smtp_password", str),
    "NEWSMON_MAIL_FROM": ("mail_from", str),
    "NEWSMON_PUBLIC_URL": ("public_url", str),
    "NEWSMON_SECRET_KEY": ("secret_key", str),
    "NEWSMON_ALERT_WINDOW_HOURS": ("alert_window_hours", float),
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


def _home_secret_key(home: Path) -> str:
    """A random key kept in NEWSMON_HOME, so links cannot be forged out of the box.

    Several machines sending mail must share one key: set NEWSMON_SECRET_KEY there.
    """
    path = home / "secret.key"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        home.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(key)
        return key
