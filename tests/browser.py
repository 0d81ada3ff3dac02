"""Headless Chromium for the report's browser tests and the docs' screenshot script.

The Debian ``chromium`` package (``.ci/run`` installs it); no driver, no
network. A page is measured by appending a script that writes what the
browser laid out into the DOM, which ``--dump-dom`` prints: the same
getBoundingClientRect a person's browser computes, with no DevTools protocol.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CHROMIUM", "FIRST_SCREEN", "needs_chromium", "probe", "run_chromium", "screenshot"]

CHROMIUM = shutil.which("chromium")
FIRST_SCREEN = (1400, 900)
"""Width and height of the first screen a reviewer sees (a laptop's browser window)."""

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="chromium missing (Debian package chromium; .ci/run installs it)",
)
"""Skips without Chromium, except in CI (CI=true), where a missing browser must fail."""


def run_chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with a throw-away profile and nothing reaching the network."""
    assert CHROMIUM is not None, "chromium is required in CI (Debian package chromium)"
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def probe(page: Path, script: str, *, profile: Path, size: tuple[int, int] = FIRST_SCREEN) -> Any:
    """Lay ``page`` out at ``size`` and return what ``script`` measured.

    ``script`` is JavaScript ending in an expression statement ``result = ...``
    (a JSON-able value); it runs after the page's own content.
    """
    probed = page.with_name(page.stem + ".probed.html")
    wrapper = (
        f"<script>let result = null;\n{script}\n"
        "const out = document.createElement('pre'); out.id = 'probe-result';"
        "out.textContent = JSON.stringify(result); document.body.appendChild(out);</script>"
    )
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", wrapper + "</body>"))
    done = run_chromium(
        profile, f"--window-size={size[0]},{size[1]}", "--dump-dom", probed.as_uri()
    )
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    return json.loads(unescape(found.group(1)))


def screenshot(
    page: Path, png: Path, *, profile: Path, size: tuple[int, int] = FIRST_SCREEN
) -> None:
    """Save what the first screen of ``page`` shows at ``size`` as ``png``."""
    done = run_chromium(
        profile, f"--window-size={size[0]},{size[1]}", f"--screenshot={png}", page.as_uri()
    )
    assert png.exists() and png.stat().st_size > 10_000, done.stderr[-2000:]
