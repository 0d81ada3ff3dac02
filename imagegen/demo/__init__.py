"""The reference application behind shadow proxies: wiring, traffic and ``shadow demo``."""

from __future__ import annotations

from imagegen.demo.run import DemoOptions, DemoResult, ServiceSummary, run_demo

__all__ = ["DemoOptions", "DemoResult", "ServiceSummary", "run_demo"]
