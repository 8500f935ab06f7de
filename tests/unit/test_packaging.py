"""The wheel's package list (pyproject.toml) against the code: a package left out would be
missing from every installed newsmon. (scripts/check-wheel, run by CI, installs the wheel
and runs the demo from outside the repo.)"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pipeline.store.migrate import SQL_DIR, available_migrations

REPO = Path(__file__).resolve().parents[2]


def test_every_package_under_pipeline_is_in_the_wheel_and_sql_is_mapped_into_it() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    listed = set(config["setuptools"]["packages"])
    on_disk = {".".join(init.parent.relative_to(REPO).parts)
               for init in (REPO / "pipeline").rglob("__init__.py")}
    assert listed == on_disk | {"pipeline.sql"}
    assert config["setuptools"]["package-dir"] == {"pipeline.sql": "sql"}
    assert config["setuptools"]["package-data"]["pipeline.sql"] == ["*.sql", "queries/*.sql"]


def test_the_migrations_come_from_the_top_level_sql_folder() -> None:
    names = [m.name for m in available_migrations()]
    assert names[0] == "0001_init" and len(names) == len(list((REPO / "sql").glob("0*.sql")))
    assert Path(str(SQL_DIR)).resolve() == REPO / "sql"
