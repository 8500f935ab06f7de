"""The outlet rule is written twice, in SQL (newsmon_outlet(), for the research views) and
in Python (pipeline.urls.outlet_name, for stories.outlets and the emails): one table of
cases through both, on a real PostgreSQL, so the two cannot drift apart."""

from __future__ import annotations

import psycopg

from pipeline.urls import outlet_name

CASES = [  # (site_name, url)
    ("El Pitazo", "https://elpitazo.net/sucesos/x"),
    ("  Miami Herald  ", "https://www.miamiherald.com/news/x"),
    ("   ", "https://www.efectococuyo.com/politica/x"),
    ("", "https://www.efectococuyo.com/politica/x"),
    (None, "https://www.efectococuyo.com/politica/x"),
    (None, "https://m.bbc.co.uk/news/x"),
    (None, "HTTPS://WWW.Reuters.COM/world/x"),  # "WWW." is not dropped: SQL matches www. as is
    (None, "https://Www.example.com/x"),
    (None, "http://www.example.com:8080/x?y=1#z"),
    (None, "https://user:secret@www.example.com/x"),
    (None, "https://example.com?x=1"),
    (None, "https://example.com#top"),
    (None, "https://www.example.com."),
    (None, "https://www/x"),
    (None, "https://www.www.example.com/x"),
    (None, "http://127.0.0.1:8765/story"),
    (None, "https://bücher.de/x"),
    (None, "https://xn--bcher-kva.de/x"),
    (None, "//example.com/no-scheme"),
    (None, "example.com/no-scheme"),
    (None, "mailto:desk@example.com"),
    (None, "http://[::1]:8000/x"),
    (None, "http://[bad/x"),
    (None, ""),
    (None, None),
    ("\tTabbed\n", "https://example.com/x"),  # btrim trims spaces only
    ("<b>Tagged</b>", "https://example.com/x"),
]
# Not in the table: upper-case non-ASCII hosts. SQL lower() folds them by the database's
# locale (a C-locale server leaves "Ü" alone), Python always does.


def test_python_and_sql_name_the_same_outlet(db_url) -> None:
    with psycopg.connect(db_url) as conn:
        in_sql = [conn.execute("SELECT newsmon_outlet(%s, %s)", case).fetchone()[0]
                  for case in CASES]
    in_python = [outlet_name(*case) for case in CASES]
    assert [(case, p, s) for case, p, s in zip(CASES, in_python, in_sql, strict=True)
            if p != s] == []
