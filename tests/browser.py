"""A local HTML file opened in Debian's headless Chromium with the network off, through Playwright.

Used by tests/test_report_browser.py and scripts/screenshots. Playwright drives the system's
/usr/bin/chromium (never a browser of its own: `playwright install` is not needed). Every
request the page makes is intercepted: the page's own file is let through, anything else is
refused and recorded, so that a test can assert that nothing else was even attempted.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path(os.environ.get("ETL_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)


@dataclass
class OpenedPage:
    """The page, and what happened while it loaded."""

    page: object  # playwright.sync_api.Page
    url: str
    requests: list[str] = field(default_factory=list)  # every request, the page's own included
    refused: list[str] = field(default_factory=list)  # every request other than the page
    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    page_errors: list[str] = field(default_factory=list)

    @property
    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"] + self.page_errors


@contextmanager
def open_offline(
    path: Path, *, width: int = 1280, height: int = 900, scale: float = 1
) -> Iterator[OpenedPage]:
    """Open ``path`` in a fresh headless Chromium profile that may load nothing but ``path``."""
    from playwright.sync_api import sync_playwright

    url = path.resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="etl-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,  # the fresh --user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(CHROMIUM_FLAGS),
            viewport={"width": width, "height": height},
            device_scale_factor=scale,
            offline=True,
        )
        try:
            opened = OpenedPage(page=None, url=url)

            def intercept(route) -> None:
                requested = route.request.url
                opened.requests.append(requested)
                if requested == url:
                    route.continue_()
                else:
                    opened.refused.append(requested)
                    route.abort()

            context.route("**/*", intercept)
            page = context.new_page()
            page.on("console", lambda message: opened.console.append((message.type, message.text)))
            page.on("pageerror", lambda error: opened.page_errors.append(str(error)))
            opened.page = page
            page.goto(url, wait_until="load")
            yield opened
        finally:
            context.close()
