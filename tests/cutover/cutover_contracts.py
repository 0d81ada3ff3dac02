"""Tiny contracts for the CLI tests: ``--contracts cutover_contracts:CONTRACTS``."""

from __future__ import annotations

from abc import ABC, abstractmethod

from shadow import read, read_write, write


class SettingsService(ABC):
    @read()
    @abstractmethod
    def get(self, key: str) -> str | None: ...

    @write()
    @abstractmethod
    def set(self, key: str, value: str) -> None: ...


class QueueService(ABC):
    @read_write()
    @abstractmethod
    def dequeue(self) -> int | None: ...


CONTRACTS = {"settings": SettingsService, "queue": QueueService}
PLAN_TOML = '[phases]\n1 = ["settings"]\n2 = ["queue"]\n'
BAD = {"settings": 42}
