"""The runtime's child processes (the mirror worker, the store writer), started alike.

Each is spawned (nothing inherited from the application) and talks to the
runtime over a pipe. A Ctrl-C in the terminal is the parent's alone: it drains
and writes the last batch itself. So the child starts with SIGINT blocked (a
signal mask survives fork and exec) and ignores it before unblocking it
(:func:`ignore_interrupts`, its first call): otherwise a Ctrl-C while it is
still importing would kill it with a traceback.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

__all__ = ["ignore_interrupts", "spawn"]


def spawn(
    target: Callable[..., None], *args: Any, name: str, **options: Any
) -> tuple[BaseProcess, Connection]:
    """Start ``target(connection, *args, **options)`` in a daemon process; return it and our
    pipe end."""
    context = multiprocessing.get_context("spawn")
    ours, child = context.Pipe()
    process = context.Process(
        target=target, args=(child, *args), kwargs=options, name=name, daemon=True
    )
    # Only this thread's mask changes. The resource tracker is started first:
    # starting it unblocks SIGINT on its way out.
    resource_tracker.ensure_running()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    child.close()
    return process, ours


def ignore_interrupts() -> None:
    """In the child, first thing: ignore SIGINT, then unblock it (blocked by :func:`spawn`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
