"""A real headless Chromium for tests (Debian's chromium driven by the Playwright client;
no browser download). Skips cleanly when either is missing.

    pytest_plugins = ["tests.support.browser"]   # then ask for the `browser` fixture

Screenshots and other files a person should look at go to `artefact_dir()`:
$NEWSMON_TEST_ARTEFACTS, else build/test-artefacts/ in the checkout (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("NEWSMON_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]


def artefact_dir(*parts: str) -> Path:
    base = Path(os.environ.get("NEWSMON_TEST_ARTEFACTS") or REPO / "build" / "test-artefacts")
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
