"""The lab in a real browser: headless Chromium opens notebook 01 in JupyterLab and runs its first cells."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labproc import PROJECT, TOKEN, running_lab

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# This machine has no network: everything Chromium would fetch by itself is switched off.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SCREENSHOT = PROJECT / "artifacts" / "lab-notebook-01.png"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (CI installs Debian's chromium)")
def test_notebook_runs_in_jupyterlab_in_chromium(tmp_path: Path) -> None:
    """Open 01 in JupyterLab, run the title and setup cells, see the live server described, save a screenshot."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with running_lab(tmp_path / "state") as port, sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1400, "height": 900})
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/lab/tree/01-data-structures-and-keys.ipynb?token={TOKEN}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Shift+Enter")      # the title (markdown)
            setup = page.locator(".jp-Notebook .jp-CodeCell").first
            output = page.locator(".jp-OutputArea-output", has_text="capabilities:").first
            for attempt in range(3):               # a key pressed while the page is still busy can be lost
                setup.click()
                page.keyboard.press("Shift+Enter")
                try:
                    output.wait_for(timeout=20_000)
                    break
                except PlaywrightTimeout:
                    if attempt == 2:
                        raise
            text = output.inner_text()
        finally:
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))   # on failure too: it shows what the browser saw
            browser.close()
    assert "Redis " in text and "search" in text and "key prefix 'nb01:'" in text, text
