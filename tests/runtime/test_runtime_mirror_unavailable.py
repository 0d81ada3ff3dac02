"""A side whose factory cannot be built: one error line, a metric, a store record, skipped calls."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from shadow import ShadowError
from shadow.runtime import (
    Outcome,
    Reason,
    Runtime,
    ServiceSettings,
    ShadowSettings,
    SideFactory,
    stdlib_logger,
)
from shadow.testing import capture_comparisons
from tests.runtime.runtime_accounts import Accounts

PASSWORD = "pw-never-stored-42"
LOGGER = "tests.mirror_unavailable"


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_a_candidate_that_cannot_be_built_is_skipped_loudly_once(
    tmp_path: Path, worker: str, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    runtime = Runtime(
        ShadowSettings(
            worker=worker,
            services={"accounts": ServiceSettings(mode="shadow")},
            store_url=f"sqlite:///{tmp_path / 'store.db'}",
            breaker_failures=2,
        ),
        legacy=SideFactory("tests.runtime.runtime_accounts:build"),
        candidate=SideFactory(
            "tests.runtime.runtime_accounts:build", {"fail": "build", "password": PASSWORD}
        ),
        registry=registry,
        logger=stdlib_logger(LOGGER),  # whatever structlog configuration other tests left
    )
    caplog.set_level(logging.INFO, logger=LOGGER)
    try:
        accounts = runtime.proxy(Accounts, "accounts")
        with capture_comparisons(runtime) as seen:
            ids = [accounts.register(f"user{n}@example.org", "pw") for n in range(4)]
            assert len(set(ids)) == 4  # the callers are served by legacy as ever
            assert runtime.flush()
        assert [(item.outcome, item.reason) for item in seen] == [
            (Outcome.SKIPPED, Reason.MIRROR_UNAVAILABLE)
        ] * 4
        counts = Counter(
            {(c.method, c.outcome): c.total for c in runtime.store.comparison_counts()}
        )
        assert counts == Counter({("register", "skipped"): 4})
        assert runtime.store.drops() == []
        assert runtime.store.dirty_services() == frozenset()
        (unavailable,) = runtime.store.unavailable_mirrors()
        assert unavailable.side == "candidate"
        assert unavailable.error == (
            "builtins.ConnectionError: could not connect to postgresql://app:[redacted]@db:5432/app"
        )
        assert registry.get_sample_value("shadow_mirror_unavailable", {"side": "candidate"}) == 1
        assert registry.get_sample_value("shadow_mirror_unavailable", {"side": "legacy"}) == 0
        assert (
            registry.get_sample_value("shadow_circuit_breaker_open", {"service": "accounts"}) == 0
        )
        with pytest.raises(ShadowError, match="the candidate side cannot be built"):
            runtime.align()
    finally:
        runtime.close()
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split()[0] for r in errors] == ["shadow_mirror_unavailable"]
    assert "postgresql://app:[redacted]@db:5432/app" in errors[0].getMessage()
    assert PASSWORD not in caplog.text
    assert PASSWORD.encode() not in (tmp_path / "store.db").read_bytes()


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_aligning_after_the_factory_is_fixed_clears_the_record(tmp_path: Path, worker: str) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"

    def run(candidate: SideFactory) -> Runtime:
        runtime = Runtime(
            ShadowSettings(
                worker=worker,
                services={"accounts": ServiceSettings(mode="shadow")},
                store_url=store_url,
            ),
            legacy=SideFactory("tests.runtime.runtime_accounts:build"),
            candidate=candidate,
            registry=CollectorRegistry(),
            reconcile=lambda service, source: None,  # in-memory sides: nothing to copy
        )
        runtime.proxy(Accounts, "accounts").register("a@example.org", "pw")
        runtime.flush()
        return runtime

    broken = run(SideFactory("tests.runtime.runtime_accounts:build", {"fail": "build"}))
    broken.close()
    fixed = run(SideFactory("tests.runtime.runtime_accounts:build"))
    try:
        # Fixed, but the writes made meanwhile reached one store: still reported.
        assert [item.side for item in fixed.store.unavailable_mirrors()] == ["candidate"]
        fixed.align()
        assert fixed.store.unavailable_mirrors() == []
    finally:
        fixed.close()
