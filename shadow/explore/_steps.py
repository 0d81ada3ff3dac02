"""Call sequences as stored data: encoding, redaction, decoding, and pytest export.

A step is ``{"service", "method", "arguments": {name: plain JSON value}}``.
Arguments are turned into JSON by pydantic from the method's annotations
(records to objects, enums to values, datetimes to ISO text keeping their
zone) and back the same way, so a replay passes the types the method takes.

Redaction follows the method's :class:`~shadow._contract.Compare` spec: a
value under a sensitive name (an argument, or a field at any depth) becomes
a placeholder. A placeholder keeps only what a replay needs and reveals
nothing: ``{"__pool__": name, "pick": k}`` when the value was the ``k``-th
newest of a pool (an invitation code an earlier call returned: the replay
takes the same pick from its own pool), otherwise ``{"__redacted__": n,
"kind": type}`` where equal secrets share ``n`` (a password set, then used to
log in) and a replay passes a stand-in of that kind.
"""

from __future__ import annotations

import json
import keyword
import pprint
import re
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter

from shadow.explore._pools import Pools
from shadow.explore._session import Call, Rule

__all__ = ["decode_arguments", "encode_steps", "export_test"]

_REDACTED = "__redacted__"
_POOL = "__pool__"


def _hints(rule: Rule) -> dict[str, Any]:
    return typing.get_type_hints(rule.function)


def _plain(rule: Rule, arguments: Mapping[str, Any]) -> dict[str, Any]:
    hints = _hints(rule)
    return {
        # exclude_unset: a record's unset fields stay unset (``BoardChanges``
        # treats an explicit None as "clear", a missing field as "keep").
        name: TypeAdapter(hints.get(name, Any)).dump_python(value, mode="json", exclude_unset=True)
        for name, value in arguments.items()
    }


class _Redactor:
    def __init__(self) -> None:
        self._secrets: dict[str, int] = {}

    def placeholder(self, value: Any, pools: Pools | None, pool: str | None) -> Any:
        if value is None:
            return None
        if pools is not None and pool is not None:
            values = list(pools.values(pool))
            if value in values:
                return {_POOL: pool, "pick": len(values) - 1 - values.index(value)}
        key = json.dumps(value, sort_keys=True)
        number = self._secrets.setdefault(key, len(self._secrets))
        return {_REDACTED: number, "kind": type(value).__name__}

    def walk(self, value: Any, sensitive: frozenset[str]) -> Any:
        if isinstance(value, dict):
            return {
                key: self.placeholder(item, None, None)
                if key in sensitive
                else self.walk(item, sensitive)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.walk(item, sensitive) for item in value]
        return value


def encode_steps(calls: Sequence[Call], pools_before: Sequence[Pools]) -> list[dict[str, Any]]:
    """The redacted steps of ``calls``; ``pools_before[i]`` are the pools call ``i`` drew from."""
    redactor = _Redactor()
    steps = []
    for call, pools in zip(calls, pools_before, strict=True):
        sensitive = call.rule.compare.sensitive
        arguments = {}
        for name, value in _plain(call.rule, call.arguments).items():
            if name in sensitive:
                declared = call.rule.inputs.get(name)
                pool = declared.pool if declared is not None else None
                arguments[name] = redactor.placeholder(value, pools, pool)
            else:
                arguments[name] = redactor.walk(value, sensitive)
        steps.append(
            {"service": call.rule.service, "method": call.rule.method, "arguments": arguments}
        )
    return steps


_STAND_INS: dict[str, Any] = {"dict": {}, "list": [], "int": 0, "float": 0.0, "bool": False}


def _resolve(value: Any, pools: Pools) -> Any:
    if isinstance(value, dict):
        if _REDACTED in value:
            kind = str(value.get("kind"))
            return _STAND_INS.get(kind, f"redacted-{value[_REDACTED]}@example.invalid")
        if _POOL in value:
            values = pools.values(value[_POOL])
            pick = int(value.get("pick", 0))
            return values[-1 - pick] if pick < len(values) else None
        return {key: _resolve(item, pools) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, pools) for item in value]
    return value


def decode_arguments(rule: Rule, plain: Mapping[str, Any], pools: Pools) -> dict[str, Any]:
    """The typed arguments of a stored step (placeholders resolved, stand-ins for secrets)."""
    hints = _hints(rule)
    return {
        name: TypeAdapter(hints.get(name, Any)).validate_python(_resolve(value, pools))
        for name, value in plain.items()
    }


def _identifier(text: str) -> str:
    cleaned = re.sub(r"\W+", "_", text).strip("_") or "reproduction"
    return f"_{cleaned}" if keyword.iskeyword(cleaned) or cleaned[0].isdigit() else cleaned


def export_test(
    *,
    fingerprint: str,
    service: str,
    method: str,
    steps: Sequence[Mapping[str, Any]],
    target: Mapping[str, Any],
    reproduces_redacted: bool,
) -> str:
    """A runnable pytest module replaying ``steps``; it fails while the divergence remains."""
    name = _identifier(f"test_{service}_{method}_{fingerprint}")
    caveat = (
        ""
        if reproduces_redacted
        else "\nNote: replayed with stand-ins for redacted values, this sequence did not show\n"
        "the divergence when it was exported; put the real values back where needed.\n"
    )
    return f'''"""Reproduction of divergence group {fingerprint} ({service}.{method}).

Exported by `shadow divergences export`: the shortest call sequence exploration
found (hypothesis shrinking) that shows this divergence. Each step runs through a
strict shadow runtime (legacy authoritative, candidate mirrored and compared), so
the test fails with DivergenceError while the candidate still diverges and passes
once it is fixed.
{caveat}"""

from shadow.explore import replay_steps

TARGET = {pprint.pformat(dict(target), width=96)}

STEPS = {pprint.pformat(list(steps), width=96)}


def {name}() -> None:
    """{service}.{method} gives the same answer on both sides for this call sequence."""
    replay_steps(TARGET, STEPS, strict=True)
'''
