"""The DAGs' fail-fast policy reads `retryable` from newsmon's error taxonomy: a task
fails at once on an error a retry cannot fix, and keeps its retries for anything else."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("airflow.sdk")

from pipeline.errors import NewsmonError
from pipeline.http.errors import FetchError
from pipeline.match.watchlist import WatchlistError
from pipeline.sources import SourcesFileError
from pipeline.store import DatabaseError, DatabaseUnavailable
from pipeline.store.migrate import SchemaMismatch

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def policy():
    spec = importlib.util.spec_from_file_location("newsmon_airflow_under_test",
                                                  DAGS / "newsmon_airflow.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module.FailFast()
    sys.modules.pop(spec.name, None)


def _fails_fast(policy, exc: BaseException) -> bool:
    from airflow.sdk.definitions.retry_policy import RetryAction

    return policy.evaluate(exc, try_number=1, max_tries=4).action == RetryAction.FAIL


@pytest.mark.parametrize("exc", [
    SchemaMismatch("db: schema is behind"),
    SourcesFileError("sources: bad file"),
    WatchlistError("watchlist: bad rule"),
    DatabaseError("db: CheckViolation"),
    FetchError("fetch: 404", kind="http-status", url="http://example.org/", status=404),
], ids=type)
def test_an_error_a_retry_cannot_fix_fails_at_once(policy, exc) -> None:
    assert isinstance(exc, NewsmonError) and not exc.retryable
    assert _fails_fast(policy, exc)


@pytest.mark.parametrize("exc", [
    DatabaseUnavailable("db: connection lost"),
    FetchError("fetch: timed out", kind="timeout", url="http://example.org/"),
    RuntimeError("something unexpected"),
], ids=type)
def test_anything_else_keeps_its_retries(policy, exc) -> None:
    assert not _fails_fast(policy, exc)


def test_renaming_an_error_class_keeps_it_failing_fast(policy) -> None:
    renamed = type("SchemaBehindTheCode", (SchemaMismatch,), {})
    assert _fails_fast(policy, renamed("db: schema is behind"))
