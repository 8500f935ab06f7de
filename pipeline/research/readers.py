"""Reader logins for researchers (`newsmon db grant-reader`)."""

from __future__ import annotations

import logging

import psycopg

from pipeline.store import roles

log = logging.getLogger(__name__)

from pipeline.research.filters import ResearchError


def grant_reader(conn: psycopg.Connection, name: str, password: str | None = None, *,
                 statement_timeout: str | None = None) -> None:
    """Create (or update) the login `name`, a member of newsmon_reader (see
    `pipeline.store.roles.grant_login`); `statement_timeout` overrides the group's."""
    try:
        roles.grant_login(conn, name, role="reader", password=password,
                          statement_timeout=statement_timeout, command="grant-reader")
    except roles.RoleError as exc:
        raise ResearchError(str(exc)) from exc


def reader_conninfo(url: str, name: str, password: str | None) -> str:
    """The connection string a researcher uses: the same server and database, their login."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    params.update(user=name, password=password)
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v})
