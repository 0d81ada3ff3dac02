"""The commands a reviewer runs next, written out to be copied and pasted.

Per open divergence group: look at it, accept it until a date, or mark it
fixed; per phase or service that may go: promote it; per blocked phase: the
gate to run again once the review is done. The reviewer's own words (a note,
a reason) are placeholders in angle brackets, inside quotes so the command
still parses; everything else is exact, including the options that locate
the files the report was made from (:class:`CommandOptions`).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

__all__ = ["ACCEPT_FOR", "PROGRAM", "CommandOptions", "group_commands", "next_commands"]

PROGRAM = "shadow"
ACCEPT_FOR = timedelta(days=7)
"""The expiry the suggested ``accept`` command proposes (the reviewer may change it)."""


@dataclass(frozen=True, slots=True)
class CommandOptions:
    """Options given to ``shadow`` so the commands act on the files the report was read from.

    They go before the command name (``shadow --config F divergences show X``),
    as the command line takes them.

    ``review`` locates the store and audit log (``shadow divergences ...``);
    ``gate`` also the plan, policy and contracts (``shadow gate``/``promote``).
    """

    review: tuple[str, ...] = ()
    gate: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        *,
        config: Path,
        store: str | None = None,
        audit_log: Path | None = None,
        plan: Path | None = None,
        policy: Path | None = None,
        contracts: str | None = None,
    ) -> CommandOptions:
        """The options the CLI was given (paths made absolute: the commands run anywhere)."""

        def given(*pairs: tuple[str, object]) -> tuple[str, ...]:
            words: list[str] = []
            for option, value in pairs:
                if value is not None:
                    words += [option, str(value.resolve() if isinstance(value, Path) else value)]
            return tuple(words)

        # A password in the store URL never reaches a report: masked, the reviewer types it.
        shown_store = (
            None if store is None else make_url(store).render_as_string(hide_password=True)
        )
        review = given(("--config", config), ("--store", shown_store), ("--audit-log", audit_log))
        return cls(
            review,
            review + given(("--plan", plan), ("--policy", policy), ("--contracts", contracts)),
        )


def _command(*words: str, options: tuple[str, ...]) -> str:
    return shlex.join([PROGRAM, *options, *words])


def group_commands(fingerprint: str, *, now: datetime, options: CommandOptions) -> dict[str, str]:
    """``show``, ``accept`` and ``fixed`` for one group."""
    expires = (now + ACCEPT_FOR).date().isoformat()
    review = options.review
    return {
        "show": _command("divergences", "show", fingerprint, options=review),
        "accept": _command(
            "divergences",
            "accept",
            fingerprint,
            "--note",
            "<why this difference is acceptable>",
            "--expires",
            expires,
            options=review,
        ),
        "fixed": _command(
            "divergences",
            "fixed",
            fingerprint,
            "--note",
            "<the fix: commit or ticket>",
            options=review,
        ),
    }


def next_commands(
    decided: Sequence[Mapping[str, Any]],
    groups: Sequence[Mapping[str, Any]],
    options: CommandOptions,
) -> list[dict[str, str]]:
    """What to run next, in order: review open groups, then promote or re-run the gate.

    ``decided`` is :func:`shadow.cutover.decision.decision`'s answer, ``groups``
    the groups to review, in order (each with its ``commands``).
    """
    steps = []
    for group in groups:
        where = f"{group['service']}.{group['method']} {group['fingerprint']}"
        steps.append({"why": f"review {where}: accept it", "command": group["commands"]["accept"]})
        steps.append({"why": "... or mark it fixed", "command": group["commands"]["fixed"]})
    reason = "<why this step now>"
    for phase in decided:
        number = str(phase["phase"])
        if phase["may_go"]:
            steps.append(
                {
                    "why": f"phase {number} may go: {phase['current']} -> {phase['target']}",
                    "command": _command(
                        "promote", "--phase", number, "--reason", reason, options=options.gate
                    ),
                }
            )
            continue
        if phase["done"]:
            continue
        for service in phase["services"]:
            if service["may_go"]:
                steps.append(
                    {
                        "why": f"{service['service']} may go alone: "
                        f"{service['current']} -> {service['target']}",
                        "command": _command(
                            "promote",
                            "--phase",
                            number,
                            "--service",
                            service["service"],
                            "--reason",
                            reason,
                            options=options.gate,
                        ),
                    }
                )
        steps.append(
            {
                "why": f"phase {number} is blocked ("
                + ", ".join(item["name"] for item in phase["blocking"])
                + "): judge it again once that is resolved",
                "command": _command("gate", "--phase", number, options=options.gate),
            }
        )
    return steps
