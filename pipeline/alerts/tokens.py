"""Signed per-subscriber tokens for the unsubscribe and preferences links.

A token carries the subscriber id, their token version and when it was made, signed
with the secret key (HMAC via itsdangerous) and a salt per purpose:

- an unsubscribe token (the `List-Unsubscribe` header, seen by every mail server and
  client on the way) can only unsubscribe; it never opens the preferences page;
- the version must match `subscribers.token_version`, which unsubscribing or a new
  address bumps, so every link sent before stops working;
- tokens expire (a year for unsubscribe, which must keep working in old mail; 90 days
  for preferences, which shows the address and can change the subscription).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from itsdangerous import BadSignature, URLSafeSerializer

from pipeline.config import Settings

UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
_SALTS = {UNSUBSCRIBE: "newsmon.unsubscribe", PREFERENCES: "newsmon.preferences"}
MAX_AGE = {UNSUBSCRIBE: timedelta(days=365), PREFERENCES: timedelta(days=90)}
# Before token versions, one token (the signed id) served both links. Mail already sent
# carries it, and its unsubscribe link must keep working: such a token may unsubscribe
# (as version 0, so it dies with the first unsubscribe) but never open preferences.
_LEGACY_SALT = "newsmon.subscription"


class TokenHolder(Protocol):
    """A subscriber as tokens see them (`Subscriber`, or the `Recipient` of an email)."""

    @property
    def id(self) -> int: ...

    @property
    def token_version(self) -> int: ...


@dataclass(frozen=True, slots=True)
class TokenClaim:
    subscriber_id: int
    version: int


def subscriber_token(secret_key: str, subscriber: TokenHolder, *, purpose: str,
                     now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    payload = [int(subscriber.id), int(subscriber.token_version), issued]
    return URLSafeSerializer(secret_key, salt=_SALTS[purpose]).dumps(payload)


def read_token(secret_key: str, token: str, *, purpose: str,
               now: float | None = None) -> TokenClaim | None:
    """Who the token was made for, or None if it is not ours, not for `purpose`, or expired.

    The caller still compares `version` with the subscriber's current token version.
    """
    try:
        value = URLSafeSerializer(secret_key, salt=_SALTS[purpose]).loads(token)
    except BadSignature:
        return _read_legacy(secret_key, token) if purpose == UNSUBSCRIBE else None
    if not (isinstance(value, list) and len(value) == 3 and all(_is_int(v) for v in value)):
        return None
    subscriber_id, version, issued = value
    age = (time.time() if now is None else now) - issued
    if age > MAX_AGE[purpose].total_seconds():
        return None
    return TokenClaim(subscriber_id=subscriber_id, version=version)


def _read_legacy(secret_key: str, token: str) -> TokenClaim | None:
    try:
        value = URLSafeSerializer(secret_key, salt=_LEGACY_SALT).loads(token)
    except BadSignature:
        return None
    return TokenClaim(subscriber_id=value, version=0) if _is_int(value) else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def unsubscribe_url(settings: Settings, subscriber: TokenHolder) -> str:
    token = subscriber_token(settings.secret_key, subscriber, purpose=UNSUBSCRIBE)
    return f"{settings.public_url.rstrip('/')}/unsubscribe/{token}"


def preferences_url(settings: Settings, subscriber: TokenHolder) -> str:
    token = subscriber_token(settings.secret_key, subscriber, purpose=PREFERENCES)
    return f"{settings.public_url.rstrip('/')}/preferences/{token}"
