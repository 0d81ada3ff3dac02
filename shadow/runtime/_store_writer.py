"""The divergence store written from a process of its own, off the callers' GIL.

Writing a batch (:meth:`DivergenceStore.record`) is mostly Python: SQLAlchemy
builds and binds a dozen statements, in stretches of milliseconds between
the driver calls that release the GIL. In the application's process each
stretch holds up every API thread that wants the GIL back after its own
database call, once a second (docs/benchmarks.md, "Caller overhead of
shadowing": the store writer was about a tenth of the caller process's GIL
time). A :class:`StoreWriterProcess` moves that work out: the runtime's
flusher thread pickles the batch (plain dicts, microseconds), sends it over a
pipe and waits, GIL released, for the answer; the process records it with a
store of its own on the same URL, in one transaction, exactly as the runtime
would have.

What the runtime sees does not change: :meth:`StoreWriterProcess.record`
returns once the batch is committed and raises :class:`StoreError` with the
store's own message when it was refused, so the recorder keeps, retries and
logs a batch as before. A writer process that died is a refused write (the
batch is kept and retried) and is started again at the next write; if it died
after committing and before answering, that retry counts the batch twice,
the price of never losing one.
"""

from __future__ import annotations

import contextlib
import threading
from multiprocessing.connection import Connection
from typing import Any

from shadow._exceptions import StoreError
from shadow.runtime._spawn import ignore_interrupts, spawn

__all__ = ["StoreWriterProcess"]

_STOP_SECONDS = 5.0


class StoreWriterProcess:
    """Records store batches in a spawned process (one batch at a time, in order)."""

    def __init__(self, url: str, *, busy_timeout: float, start: bool = True) -> None:
        """``start``: start the process now (its imports then overlap the application's
        start, not its traffic); otherwise at the first batch."""
        self._url = url
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._process: Any = None
        self._ready = False
        if start:
            self._start()

    def _start(self) -> None:
        self._process, self._connection = spawn(
            serve, self._url, self._busy_timeout, name="shadow-store"
        )
        self._ready = False

    def wait_ready(self, timeout: float) -> bool:
        """Wait until a process started is up (its store opened); False on timeout."""
        with self._lock:
            if self._connection is None or self._ready:
                return True
            try:
                if not self._connection.poll(timeout):
                    return False
                self._connection.recv()
            except (EOFError, OSError):
                self._retire()  # started again at the next batch
                return True
            self._ready = True
            return True

    def record(self, batch: object) -> None:
        """Have the process record ``batch``; raises :class:`StoreError` if it could not."""
        with self._lock:
            if self._connection is None:
                self._start()
            assert self._connection is not None
            try:
                if not self._ready:
                    self._connection.recv()  # ("ready", ...): opening errors come per batch
                    self._ready = True
                self._connection.send(batch)
                error: str | None = self._connection.recv()
            except (EOFError, OSError):
                self._retire()
                raise StoreError("divergence store write failed: the store writer died") from None
        if error is not None:
            raise StoreError(error)

    def _retire(self) -> None:
        connection, self._connection = self._connection, None
        process, self._process = self._process, None
        if connection is not None:
            connection.close()
        if process is not None:
            process.kill()
            process.join(_STOP_SECONDS)

    def close(self) -> None:
        """Stop the process (after the batch it is writing, if any)."""
        with self._lock:
            connection, process = self._connection, self._process
            self._connection = self._process = None
        if connection is None:
            return
        with contextlib.suppress(OSError):
            connection.send(None)
        process.join(_STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join(_STOP_SECONDS)
        connection.close()


def serve(connection: Connection, url: str, busy_timeout: float) -> None:
    """The writer process: a batch in, ``None`` (recorded) or the error's text out.

    Ignores SIGINT (the parent drains and writes the last batch, see
    :func:`shadow.runtime._worker.serve`). Ends when the pipe closes or
    ``None`` arrives.
    """
    ignore_interrupts()
    from shadow.runtime._store import DivergenceStore  # noqa: PLC0415 -- in the child only

    store: DivergenceStore | None = None
    opening_error: str | None = None
    try:
        store = DivergenceStore(url, busy_timeout=busy_timeout)
    except Exception as error:
        opening_error = str(error) or type(error).__name__
    connection.send(("ready", opening_error))
    try:
        while True:
            try:
                batch = connection.recv()
            except (EOFError, OSError):
                return
            if batch is None:
                return
            answer = opening_error
            if store is not None:
                try:
                    store.record(batch)
                except Exception as error:
                    answer = str(error) or type(error).__name__
            connection.send(answer)
    finally:
        if store is not None:
            store.close()
