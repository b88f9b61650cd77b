"""End-to-end fixtures: Debian's chromium driven by Playwright (never a downloaded browser),
the sample corpus indexed once per session, and where screenshots go.

Without chromium or the playwright package the tests skip and say how to install them;
with GRAPHRAG_REQUIRE_BROWSER=1 (CI) they fail instead, so a CI machine that lost its
browser cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.serve_process import REPO

CHROMIUM = os.environ.get("GRAPHRAG_CHROMIUM", "/usr/bin/chromium")
INSTALL = "install it with `apt-get install chromium` (Debian) and `pip install -e '.[dev]'` (playwright)"


def _unavailable(reason: str) -> None:
    if os.environ.get("GRAPHRAG_REQUIRE_BROWSER") == "1":
        pytest.fail(f"GRAPHRAG_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"{reason}: {INSTALL}")


@pytest.fixture(scope="session")
def browser_available() -> None:
    """Skips (or, in CI, fails) before anything slow is set up when there is no browser."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"no browser at {CHROMIUM} (GRAPHRAG_CHROMIUM names another)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is not installed")


@pytest.fixture(scope="module")
def browser(browser_available: None) -> Iterator[object]:
    """Chromium for one test module. Not longer: Playwright's sync API runs an event loop in
    this thread while it is open, and every later test that calls asyncio.run would fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


VIEWPORT = {"width": 1280, "height": 800}  # the size the page must be usable at
WAIT_MS = 30_000


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh browser tab (own storage); fails the test on any uncaught script error."""
    context = browser.new_context(viewport=VIEWPORT)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.set_default_timeout(WAIT_MS)
    yield opened
    context.close()
    assert not errors, errors


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots: GRAPHRAG_E2E_ARTIFACTS when set (CI keeps it), else a pytest temp folder."""
    named = os.environ.get("GRAPHRAG_E2E_ARTIFACTS")
    folder = Path(named) if named else tmp_path_factory.mktemp("e2e-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# A fast, deterministic workspace: the offline spaCy extractor and the hashing embedder.
WORKSPACE_ENV = {"GRAPHRAG_EXTRACTOR": "spacy", "GRAPHRAG_EMBEDDER": "hashing"}


@pytest.fixture(scope="session")
def sample_workspace(browser_available: None, tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Path:
    """The sample corpus (data/sample) indexed once, offline, by `graphrag index` in its own
    process (Playwright's sync API owns this thread's event loop)."""
    workspace = tmp_path_factory.mktemp("e2e") / "workspace"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHRAG_", "OPENAI_", "NEO4J_"))}
    done = subprocess.run(
        [sys.executable, "-m", "graphrag.cli", "index", str(sample_dir), "--workspace", str(workspace)],
        env={**env, **WORKSPACE_ENV}, cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return workspace
