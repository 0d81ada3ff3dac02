"""The /metrics benchmark in CI: a demo in a child process, scraped while it runs.

Size and the absence of ``_created`` series are judged here (they do not depend
on the machine's load); serve time is measured and reported, never asserted
(a timing target belongs to ``./dev bench metrics``, not to a unit test).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import metrics


@pytest.mark.slow
def test_the_demo_serves_a_lean_exposition_while_it_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scrapes = metrics.measure(ops=500, rate=100.0, interval=0.25, root=tmp_path)
    assert len(scrapes) >= 3, "the demo's /metrics was scraped too few times while it ran"
    assert all(scrape.seconds > 0 for scrape in scrapes)
    # Every reference service's families are there once each has taken traffic: a lean
    # exposition, not an empty one. Judged on the fullest scrape, since on a loaded machine
    # the early ones still come before the last service's first call (417 samples in CI).
    assert max(scrape.samples for scrape in scrapes) > 500
    assert max(scrape.size for scrape in scrapes) <= metrics.MAX_BYTES
    assert all(scrape.created == 0 for scrape in scrapes)
    metrics.table(scrapes, judged=True)
    out = capsys.readouterr().out
    assert "| exposition size (KB, largest) |" in out and "| <= 150 | yes |" in out
    assert "| serve time p95 (ms) |" in out and "| <= 50 |" in out
