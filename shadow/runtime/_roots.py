"""Which ids an example of a divergence mentions, to link groups into stories.

The divergence store links a newly recorded group to an earlier open root of
its service when their examples share an id (``shadow.runtime._store``,
``shadow_group_roots``). Examples are stored redacted; a redacted value is
never an id to link by.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["example_ids"]

_REDACTED = "[redacted]"  # shadow.runtime._compare.REDACTED (not imported: keeps this a leaf)
_ID_NAME = re.compile(r"(^|_)(id|ids|key|keys|name|names)$", re.IGNORECASE)
_LAST_PATH_NAME = re.compile(r"\['([^']*)'\]$")


def example_ids(example: Mapping[str, Any]) -> set[str]:
    """The ids of an example: values of id-named arguments and differing id-named fields.

    Only names that say "identifier" count (``*_id``, ``*_ids``, ``key``,
    ``*_name``...): offsets, limits, counts and flags are shared by unrelated
    calls and would link everything to everything.
    """
    found: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, Mapping):
            for item in value.values():
                collect(item)
        elif isinstance(value, list | tuple):
            for item in value:
                collect(item)
        elif isinstance(value, str):
            if value and value != _REDACTED:
                found.add(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            found.add(str(value))

    def collect_named(value: Any) -> None:
        if isinstance(value, Mapping):
            for name, item in value.items():
                if _ID_NAME.search(str(name)):
                    collect(item)
                else:
                    collect_named(item)
        elif isinstance(value, list | tuple):
            for item in value:
                collect_named(item)

    collect_named(example.get("arguments", {}))
    for difference in example.get("differences", ()):
        if not isinstance(difference, Mapping):
            continue
        last = _LAST_PATH_NAME.search(str(difference.get("path", "")))
        if last is not None and _ID_NAME.search(last.group(1)):
            collect(difference.get("authoritative"))
            collect(difference.get("mirror"))
        else:
            collect_named(difference.get("authoritative"))
            collect_named(difference.get("mirror"))
    return found
