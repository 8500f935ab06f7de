"""Database errors named as what they are: an outage, or a refusal (real server, real errors)."""

from __future__ import annotations

import os

import psycopg
import pytest

from pipeline.store import DatabaseError, DatabaseUnavailable, database_error, is_connection_lost


def test_an_index_row_over_the_limit_is_a_refusal_not_a_lost_connection(db_url) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE drill (v text PRIMARY KEY)")
        with pytest.raises(psycopg.OperationalError) as raised:  # how psycopg files it
            conn.execute("INSERT INTO drill VALUES (%s)", (os.urandom(4500).hex(),))
    assert isinstance(raised.value, psycopg.errors.ProgramLimitExceeded)
    assert not is_connection_lost(raised.value)
    named = database_error(raised.value, during="during the cycle")
    assert isinstance(named, DatabaseError)
    assert str(named).startswith("db: ProgramLimitExceeded (54000) during the cycle: index row")


def test_a_terminated_session_is_a_lost_connection(db_url) -> None:
    with (psycopg.connect(db_url, autocommit=True) as conn,
          pytest.raises(psycopg.OperationalError) as raised):
        conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    assert is_connection_lost(raised.value)
    named = database_error(raised.value, during="during the cycle")
    assert isinstance(named, DatabaseUnavailable)
    assert str(named).startswith("db: connection lost during the cycle: ")
