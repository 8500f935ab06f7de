"""The secret key and public URL behind email links: weak values refused, secret.key made safely."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from pipeline.config import (
    SecretKeyError,
    check_link_settings,
    check_public_url,
    check_secret_key,
    load_settings,
)

STRONG = "Zq3v8Yb1-kR7pW0sLx5tN2mC9hF4jD6g"  # 32 bytes, no pattern


@pytest.mark.parametrize("key, why", [
    ("", "empty"),
    ("   ", "empty"),
    ("change-me", "a placeholder"),
    ("CHANGEME", "a placeholder"),
    ("secret", "a placeholder"),
    ("password", "a placeholder"),
    ("test", "a placeholder"),
    ("change-me-to-a-long-random-string-of-your-own", "a placeholder"),
    ("replace_me_with_something_very_long_and_random", "a placeholder"),
    ("a" * 64, "one short string repeated"),
    ("changemechangemechangemechangeme", "a placeholder"),
    ("xyz1" * 16, "one short string repeated"),
    ("0123456789" * 4, "one short string repeated"),
    ("k", "shorter than 32 bytes"),
    ("test-secret", "shorter than 32 bytes"),
    (STRONG[:31], "shorter than 32 bytes"),
])
def test_weak_secret_keys_are_refused_with_the_reason(key: str, why: str) -> None:
    with pytest.raises(SecretKeyError, match=f"NEWSMON_SECRET_KEY is {why}; .*forge"):
        check_secret_key(key)


@pytest.mark.parametrize("key", [
    STRONG,
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # openssl rand -hex 32
    "ñandú-Zq3v8Yb1-kR7pW0sLx5tN2mC9h",  # non-ASCII counts in bytes
])
def test_strong_secret_keys_pass(key: str) -> None:
    check_secret_key(key)


@pytest.mark.parametrize("url", [
    "https://news.example.org",
    "https://news.example.org/newsmon/",
    "http://localhost:8081",
    "http://127.0.0.1:8025",
    "http://127.8.9.10",
    "http://[::1]:8025",
])
def test_public_urls_accepted(url: str) -> None:
    check_public_url(load_settings(env={"NEWSMON_HOME": "/nonexistent"}, public_url=url,
                                   secret_key=STRONG))


@pytest.mark.parametrize("url, error", [
    ("http://news.example.org", "is http; unsubscribe links must be https"),
    ("http://192.168.1.20:8025", "is http; unsubscribe links must be https"),
    ("http://localhost.example.org", "is http; unsubscribe links must be https"),
    ("ftp://news.example.org", "is not an http\\(s\\) URL"),
    ("news.example.org", "is not an http\\(s\\) URL"),
    ("https://", "is not an http\\(s\\) URL"),
])
def test_public_urls_refused(url: str, error: str) -> None:
    settings = load_settings(env={"NEWSMON_HOME": "/nonexistent"}, public_url=url,
                             secret_key=STRONG)
    with pytest.raises(ValueError, match=error):
        check_public_url(settings)


def test_http_public_url_allowed_when_explicitly_opted_in() -> None:
    env = {"NEWSMON_HOME": "/nonexistent", "NEWSMON_PUBLIC_URL": "http://devbox.lan:8081",
           "NEWSMON_ALLOW_HTTP_PUBLIC_URL": "1", "NEWSMON_SECRET_KEY": STRONG}

    check_link_settings(load_settings(env=env))
    with pytest.raises(ValueError, match="is http"):
        check_link_settings(load_settings(env={**env, "NEWSMON_ALLOW_HTTP_PUBLIC_URL": "0"}))


def test_the_demo_defaults_pass(tmp_path: Path) -> None:
    check_link_settings(load_settings(env={"NEWSMON_HOME": str(tmp_path)}))


def test_a_new_home_gets_a_strong_private_key_that_stays(tmp_path: Path) -> None:
    first = load_settings(env={"NEWSMON_HOME": str(tmp_path / "home")}).secret_key
    again = load_settings(env={"NEWSMON_HOME": str(tmp_path / "home")}).secret_key

    check_secret_key(first)
    assert again == first
    path = tmp_path / "home" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == first
    assert os.listdir(tmp_path / "home") == ["secret.key"]  # no temp file left behind


@pytest.mark.parametrize("content", ["", "\n", "tooShort", "change-me"])
def test_an_empty_or_short_key_file_is_corrupt_not_a_key(tmp_path: Path, content: str) -> None:
    path = tmp_path / "secret.key"
    path.write_text(content)

    with pytest.raises(SecretKeyError, match=f"{path} is .*looks corrupt: delete it"):
        load_settings(env={"NEWSMON_HOME": str(tmp_path)})
    assert path.read_text() == content  # never silently replaced


def _key_after_start(home: str, start: multiprocessing.synchronize.Barrier,
                     keys: multiprocessing.Queue) -> None:
    start.wait()
    keys.put(load_settings(env={"NEWSMON_HOME": home}).secret_key)


def test_processes_starting_at_once_all_end_with_the_same_key(tmp_path: Path) -> None:
    """The old code created the file, then wrote it: a racing reader got an empty key, or
    crashed on the name the winner had just made (about one round in ten here)."""
    context = multiprocessing.get_context("fork")
    for attempt in range(20):  # fresh homes: each round is a new first start
        home = str(tmp_path / f"home{attempt}")
        start, keys = context.Barrier(16), context.Queue()
        workers = [context.Process(target=_key_after_start, args=(home, start, keys))
                   for _ in range(16)]
        for worker in workers:
            worker.start()
        found = [keys.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)

        assert [w.exitcode for w in workers] == [0] * 16
        assert len(set(found)) == 1
        check_secret_key(found[0])
        assert Path(home, "secret.key").read_text() == found[0]
