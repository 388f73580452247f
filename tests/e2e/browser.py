"""Headless Chromium for the page tests: Debian's ``chromium`` driven by Playwright (its own browser
downloads are never used), an accessibility check with the vendored axe-core, and key files for signing.

The browser is required, never skipped: without it the tests fail and say how to install it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, Playwright

from services.signature.ca import DevCA, Issued

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--no-first-run",
    # The machine has no outside network: without these Chromium keeps trying to reach Google.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
HOW_TO_INSTALL = (
    "the page tests need Debian's Chromium: `apt-get install chromium` (or set EMHANA_CHROMIUM to a Chromium "
    "executable); .ci/run installs it"
)


def chromium_path() -> str:
    """Where Chromium is; an AssertionError saying how to install it when it is not there."""
    configured = os.environ.get("EMHANA_CHROMIUM")
    found = configured or shutil.which("chromium") or shutil.which("chromium-browser")
    assert found and Path(found).exists(), HOW_TO_INSTALL
    return found


async def launch(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)


# Every axe run of the session, for the summary at the end of the test output (tests/conftest.py).
AXE_RUNS: list[tuple[str, str, int, dict[str, int]]] = []  # (page, language, rules passed, violations by impact)


def axe_table() -> list[str]:
    """The axe runs as lines: each page and language checked, the rules it passed, what it violated."""
    if not AXE_RUNS:
        return []
    seen: dict[tuple[str, str], tuple[int, dict[str, int]]] = {}
    for path, language, passed, violations in AXE_RUNS:
        seen[(path, language)] = (passed, violations)
    width = max(len(path) for path, _ in seen)
    lines = [f"{'page':<{width}}  lang  passed  minor  moderate  serious  critical"]
    for (path, language), (passed, bad) in sorted(seen.items()):
        counts = "  ".join(f"{bad.get(k, 0):>{len(k)}}" for k in ("minor", "moderate", "serious", "critical"))
        lines.append(f"{path:<{width}}  {language:<4}  {passed:>6}  {counts}")
    return lines


async def assert_accessible(page: Page) -> None:
    """axe-core on the page as it is now: no serious or critical violation (WCAG 2 A/AA rules); each run is
    kept for the summary table at the end of the test output."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))  # evaluated by the driver, not subject to the CSP
    result: dict[str, Any] = await page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    impacts: dict[str, int] = {}
    for violation in result["violations"]:
        impacts[violation["impact"]] = impacts.get(violation["impact"], 0) + 1
    path = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|\d{4}-\d{4}-\d{6}", "…", page.url.split("://", 1)[-1].split("/", 1)[-1])
    language = await page.get_attribute("html", "lang") or "?"
    site = await page.evaluate("document.body.dataset.site || ''")  # portal or arm
    AXE_RUNS.append((f"{site} /" + path.split("?")[0], language, len(result["passes"]), impacts))
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"accessibility violations on {page.url}:\n" + "\n".join(bad)


async def snapshot(page: Page, name: str, *, full_page: bool = True) -> None:
    """With EMHANA_SCREENSHOTS=<folder>, keep a picture of the page (the README's screenshots come from
    here: `EMHANA_SCREENSHOTS=docs/screenshots make test`); otherwise nothing."""
    folder = os.environ.get("EMHANA_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        await page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=full_page)


def key_file(ca: DevCA, issued: Issued, name: str) -> Path:
    """The PKCS#12 file of ``issued`` (password ``emhana``), as a national-CA key file is handed out."""
    ca.save(issued, name)
    return ca.folder / "issued" / f"{name}.p12"


async def choose_time(page: Page, *, day: int = -1, doctor: str | None = None, time: int = -1) -> str:
    """An appointment's time chosen as a person chooses it: a day (by position among the offered ones), a
    doctor when that day has several (``doctor``'s code, else the first), a time (by position). Returns the
    chosen ``doctor|start``."""
    async with page.expect_navigation():
        await page.locator("ul.steps").first.locator("a.step").nth(day).click()
    if await page.locator("#choose-time").count() == 0:
        doctors = page.locator("#choose-doctor + ul.steps a.step")
        link = (
            doctors.first if doctor is None else page.locator(f"#choose-doctor + ul.steps a[href*='doctor={doctor}']")
        )
        async with page.expect_navigation():
            await link.click()
    slot = page.locator("#choose-time input[name=doctor_slot]").nth(time)
    await slot.check()
    value = await slot.get_attribute("value")
    assert value is not None
    return value
