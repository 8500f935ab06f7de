"""The small rules behind alerts: tokens, freshness, backoff, digest hours, SMTP settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from pipeline.alerts.digest import due_date
from pipeline.alerts.outbox import MAX_BACKOFF, backoff, is_fresh
from pipeline.alerts.smtp import sender_address, smtp_settings_from_connection
from pipeline.alerts.tokens import (
    PREFERENCES,
    UNSUBSCRIBE,
    TokenClaim,
    read_token,
    subscriber_token,
)
from pipeline.config import load_settings

SETTINGS = load_settings(env={"NEWSMON_HOME": "/nonexistent"})
NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Holder:
    id: int
    token_version: int = 0


def test_token_round_trip_and_forgeries() -> None:
    token = subscriber_token("secret", Holder(42), purpose=UNSUBSCRIBE)
    other = subscriber_token("secret", Holder(43), purpose=UNSUBSCRIBE)
    swapped = other.split(".")[0] + "." + token.split(".")[1]  # id swapped, signature kept

    assert read_token("secret", token, purpose=UNSUBSCRIBE) == TokenClaim(42, 0)
    assert read_token("other-secret", token, purpose=UNSUBSCRIBE) is None
    assert read_token("secret", swapped, purpose=UNSUBSCRIBE) is None
    assert read_token("secret", subscriber_token("secret", Holder(43, 5), purpose=UNSUBSCRIBE),
                      purpose=UNSUBSCRIBE) == TokenClaim(43, 5)
    assert read_token("secret", "", purpose=UNSUBSCRIBE) is None
    assert read_token("secret", "42", purpose=UNSUBSCRIBE) is None


def test_a_token_opens_only_the_page_it_was_made_for() -> None:
    unsubscribe = subscriber_token("secret", Holder(42), purpose=UNSUBSCRIBE)
    preferences = subscriber_token("secret", Holder(42), purpose=PREFERENCES)

    assert read_token("secret", unsubscribe, purpose=PREFERENCES) is None
    assert read_token("secret", preferences, purpose=UNSUBSCRIBE) is None
    assert read_token("secret", preferences, purpose=PREFERENCES) == TokenClaim(42, 0)


def test_tokens_expire() -> None:
    now = 2_000_000_000.0
    day = 86_400

    def age(purpose: str, days: float) -> TokenClaim | None:
        token = subscriber_token("secret", Holder(42), purpose=purpose, now=now - days * day)
        return read_token("secret", token, purpose=purpose, now=now)

    assert age(UNSUBSCRIBE, 364) == TokenClaim(42, 0)
    assert age(UNSUBSCRIBE, 366) is None
    assert age(PREFERENCES, 89) == TokenClaim(42, 0)
    assert age(PREFERENCES, 91) is None


def test_a_token_signed_for_something_else_is_refused() -> None:
    from itsdangerous import URLSafeSerializer

    other_use = URLSafeSerializer("secret", salt="something-else").dumps([42, 0, 2**31])
    not_ids = URLSafeSerializer("secret", salt="newsmon.unsubscribe").dumps(["42", 0, 2**31])
    short = URLSafeSerializer("secret", salt="newsmon.unsubscribe").dumps([42, 0])

    for token in (other_use, not_ids, short):
        assert read_token("secret", token, purpose=UNSUBSCRIBE) is None


def test_links_sent_before_token_versions_may_only_unsubscribe_as_version_0() -> None:
    from itsdangerous import URLSafeSerializer

    legacy = URLSafeSerializer("secret", salt="newsmon.subscription").dumps(42)
    legacy_not_an_id = URLSafeSerializer("secret", salt="newsmon.subscription").dumps("42")

    assert read_token("secret", legacy, purpose=UNSUBSCRIBE) == TokenClaim(42, 0)
    assert read_token("secret", legacy, purpose=PREFERENCES) is None
    assert read_token("other-secret", legacy, purpose=UNSUBSCRIBE) is None
    assert read_token("secret", legacy_not_an_id, purpose=UNSUBSCRIBE) is None


@pytest.mark.parametrize("published, fresh", [
    (NOW - timedelta(hours=23, minutes=59), True),
    (NOW - timedelta(hours=24, minutes=1), False),
    (NOW + timedelta(days=2), True),  # a future date: new to us now
    (None, True),  # no trustworthy date: first seen now
    (datetime(2026, 11, 14, 1, 0), True),  # naive: read as UTC
    (datetime(2026, 11, 1, 1, 0), False),
])
def test_freshness_window(published: datetime | None, fresh: bool) -> None:
    assert is_fresh(published, now=NOW, window_hours=24) is fresh


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(30) == MAX_BACKOFF


@pytest.mark.parametrize("now, expected", [
    (datetime(2026, 11, 14, 10, 59, tzinfo=UTC), None),  # 06:59 in Caracas
    (datetime(2026, 11, 14, 11, 0, tzinfo=UTC), date(2026, 11, 14)),  # 07:00 in Caracas
    (datetime(2026, 11, 15, 3, 59, tzinfo=UTC), date(2026, 11, 14)),  # 23:59, still the 14th
    (datetime(2026, 11, 15, 4, 0, tzinfo=UTC), None),  # 00:00 on the 15th, before 07:00
])
def test_digest_is_due_from_the_local_hour(now: datetime, expected: date | None) -> None:
    due = due_date(now=now, digest_hour=7, timezone="America/Caracas",
                   joined_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert (due[0] if due else None) == expected


def test_no_digest_on_the_day_someone_joins_after_their_hour() -> None:
    joined = datetime(2026, 11, 14, 8, 30, tzinfo=UTC)

    assert due_date(now=NOW, digest_hour=8, timezone="UTC", joined_at=joined) is None
    assert due_date(now=NOW + timedelta(days=1), digest_hour=8, timezone="UTC",
                    joined_at=joined) is not None


def test_digest_hour_follows_daylight_saving() -> None:
    # Madrid is UTC+2 in summer, UTC+1 in winter: 07:00 local moves in UTC.
    summer = due_date(now=datetime(2026, 7, 1, 5, 0, tzinfo=UTC), digest_hour=7,
                      timezone="Europe/Madrid", joined_at=datetime(2026, 1, 1, tzinfo=UTC))
    winter = due_date(now=datetime(2026, 12, 1, 5, 0, tzinfo=UTC), digest_hour=7,
                      timezone="Europe/Madrid", joined_at=datetime(2026, 1, 1, tzinfo=UTC))

    assert summer is not None and winter is None


@pytest.mark.parametrize("extra, security", [
    ({}, "ssl"),
    ({"disable_ssl": True}, "starttls"),
    ({"disable_ssl": "true", "disable_tls": "true"}, "none"),
])
def test_settings_from_an_airflow_smtp_connection(extra: dict, security: str) -> None:
    settings = smtp_settings_from_connection(
        SETTINGS, host="mail.example", port=587, login="bot", password="pw",
        extra={**extra, "from_email": "News <news@example.org>"})

    assert (settings.smtp_host, settings.smtp_port, settings.smtp_user, settings.smtp_password,
            settings.smtp_security) == ("mail.example", 587, "bot", "pw", security)
    assert sender_address(settings).addr_spec == "news@example.org"


def test_a_mail_from_without_an_address_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="NEWSMON_MAIL_FROM"):
        sender_address(SETTINGS.replace(mail_from="newsmon"))
