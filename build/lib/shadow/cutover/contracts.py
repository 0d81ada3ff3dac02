"""Declared methods per service, from contracts the caller names.

The gate needs every declared method of every service (an uncalled method is
an untested path). Cutover control never imports an application's services;
the caller passes a mapping of service name to contract class (or to method
names), directly or as an import path ``module:attribute``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping

from shadow._contract import contract_methods
from shadow._exceptions import ConfigError, ContractError

__all__ = ["declared_methods", "load_object"]


def declared_methods(contracts: Mapping[str, type | Iterable[str]]) -> dict[str, frozenset[str]]:
    """Service name -> declared method names (a class is read with contract_methods)."""
    methods: dict[str, frozenset[str]] = {}
    for service, contract in contracts.items():
        if isinstance(contract, type):
            try:
                methods[service] = frozenset(contract_methods(contract))
            except ContractError as error:
                raise ConfigError(f"service {service!r}: {error}") from None
        elif isinstance(contract, Iterable) and not isinstance(contract, str | bytes):
            names = frozenset(contract)
            if not all(isinstance(name, str) for name in names):
                raise ConfigError(f"service {service!r}: method names must be strings")
            methods[service] = names
        else:
            raise ConfigError(
                f"service {service!r}: expected a contract class or method names, "
                f"not {type(contract).__name__}"
            )
    return methods


def load_object(path: str) -> object:
    """The object at ``module:attribute`` (dotted attributes allowed); ConfigError otherwise."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"bad import path {path!r} (expected module:attribute)")
    try:
        found: object = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"cannot import {module_name!r}: {error}") from None
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigError(f"{module_name!r} has no attribute {attribute!r}") from None
    return found
