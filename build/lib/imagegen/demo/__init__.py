"""The reference application behind shadow proxies: wiring, traffic and ``shadow demo``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shadow._lazy import lazy_exports

if TYPE_CHECKING:
    from imagegen.demo.options import DemoOptions
    from imagegen.demo.run import DemoResult, ServiceSummary, run_demo

__all__ = ["DemoOptions", "DemoResult", "ServiceSummary", "run_demo"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DemoOptions": "imagegen.demo.options",
        "DemoResult": "imagegen.demo.run",
        "ServiceSummary": "imagegen.demo.run",
        "run_demo": "imagegen.demo.run",
    },
)
