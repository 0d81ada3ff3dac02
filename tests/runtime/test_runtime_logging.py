"""The runtime's log lines reach stdlib logging when the application configures only that."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from shadow.runtime import stdlib_logger
from tests.runtime.runtime_kv import KeyValue, MakeRuntime


@pytest.fixture
def structlog_unconfigured() -> Iterator[None]:
    """structlog as an application that never configured it sees it (restored afterwards)."""
    was_configured, saved = structlog.is_configured(), structlog.get_config()
    structlog.reset_defaults()
    yield
    if was_configured:
        structlog.configure(**saved)
    else:
        structlog.reset_defaults()


def _divergence(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(candidate_options={"fault": "wrong", "fault_method": "get"})
    kv = runtime.proxy(KeyValue, "kv")
    kv.put("a", "abc", secret="hunter2-secret")
    kv.get("a")


@pytest.mark.usefixtures("structlog_unconfigured")
def test_a_divergence_line_reaches_the_stdlib_handlers_with_its_fields(
    make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shadow.runtime")
    _divergence(make_runtime)
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "shadow_divergence"]
    assert record.name == "shadow.runtime" and record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith("shadow_divergence ") and "service=kv" in message
    assert "method=get" in message
    assert record.__dict__["service"] == "kv" and record.__dict__["method"] == "get"
    assert "hunter2" not in message + repr(record.__dict__)


@pytest.mark.usefixtures("structlog_unconfigured")
def test_the_stdlib_level_filters_the_runtime_lines(
    make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="shadow.runtime")
    _divergence(make_runtime)
    assert not [r for r in caplog.records if r.name == "shadow.runtime"]


@pytest.mark.usefixtures("structlog_unconfigured")
def test_processor_formatter_renders_the_event_and_fields_as_json() -> None:
    """structlog's stdlib integration: ProcessorFormatter + ExtraAdder gets the event dict back."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=structlog.processors.JSONRenderer(sort_keys=True),
            foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.ExtraAdder()],
        )
    )
    logger = logging.getLogger("shadow.test-formatter")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        stdlib_logger("shadow.test-formatter").warning(
            "shadow_divergence", service="kv", paths=["value"]
        )
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["event"] == "shadow_divergence"
    assert line["service"] == "kv" and line["paths"] == ["value"]
    assert line["level"] == "warning"


@pytest.mark.usefixtures("structlog_unconfigured")
def test_fields_named_like_log_record_attributes_are_renamed_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="shadow.runtime")
    stdlib_logger().info("settings_reloaded", name="n", module="m", message="x")
    [record] = caplog.records
    assert record.__dict__["shadow_name"] == "n" and record.__dict__["shadow_module"] == "m"
    assert record.__dict__["shadow_message"] == "x" and record.name == "shadow.runtime"


@pytest.mark.usefixtures("structlog_unconfigured")
def test_exceptions_keep_their_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shadow.runtime")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        stdlib_logger().exception("shadow_dispatcher_error", error="RuntimeError")
    [record] = caplog.records
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


@pytest.mark.usefixtures("structlog_unconfigured")
def test_an_application_structlog_configuration_wins_over_stdlib(
    make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shadow.runtime")
    captured = structlog.testing.LogCapture()
    structlog.configure(processors=[captured])
    _divergence(make_runtime)
    assert [e for e in captured.entries if e["event"] == "shadow_divergence"]
    assert not [r for r in caplog.records if r.name == "shadow.runtime"]
