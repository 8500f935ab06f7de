"""Signed per-subscriber tokens for the unsubscribe and preferences links.

The token carries the subscriber id, signed with the secret key (HMAC via
itsdangerous): it never expires, cannot be forged without the key, and names
exactly one subscriber, so it cannot be replayed for another.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from pipeline.config import Settings

_SALT = "newsmon.subscription"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=_SALT)


def subscriber_token(secret_key: str, subscriber_id: int) -> str:
    return _serializer(secret_key).dumps(int(subscriber_id))


def read_token(secret_key: str, token: str) -> int | None:
    """The subscriber id the token was made for, or None if it is not one of ours."""
    try:
        value = _serializer(secret_key).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def unsubscribe_url(settings: Settings, subscriber_id: int) -> str:
    token = subscriber_token(settings.secret_key, subscriber_id)
    return f"{settings.public_url.rstrip('/')}/unsubscribe/{token}"


def preferences_url(settings: Settings, subscriber_id: int) -> str:
    token = subscriber_token(settings.secret_key, subscriber_id)
    return f"{settings.public_url.rstrip('/')}/preferences/{token}"
