"""Declaring a contract: which methods read, which write, and how to compare them.

A *contract* is an abstract base class that both implementations of a service
(the legacy one and the candidate) subclass. Every public method of a contract
carries a declaration made with :func:`read`, :func:`write` or
:func:`read_write`, and the runtime refuses a contract with an undeclared
public method when a proxy is built: a method the runtime would have to guess
about is a method whose divergences nobody would see.

The declaration says two things:

* the method's :class:`Kind` -- reads run on both sides only when sampled,
  writes are always mirrored while a service is dual-written, and read-writes
  (a dequeue that returns a row and changes state) are treated as writes;
* its :class:`Compare` spec -- how the two results are compared: list order,
  row identity, fields to ignore, database-generated timestamps compared within
  a tolerance, and sensitive fields that are compared but never stored.

A contract you do not own (an application's existing abstract base class, or
a concrete class) is declared without a new class by :func:`declare`, which
records the same specs on the class itself.

This module sits at the bottom of the package: the reference services and the
runtime both import it, and it imports neither.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shadow._exceptions import ContractError

__all__ = [
    "Compare",
    "Kind",
    "MethodSpec",
    "Order",
    "contract_methods",
    "declare",
    "read",
    "read_write",
    "write",
]

_SPEC_ATTRIBUTE = "__shadow_method__"
_DECLARED_ATTRIBUTE = "__shadow_declared__"

F = TypeVar("F", bound=Callable[..., Any])


class Kind(enum.StrEnum):
    """What a contract method does to the store."""

    READ = "read"
    WRITE = "write"
    READ_WRITE = "read_write"

    @property
    def mutates(self) -> bool:
        """True when the call changes state and must therefore always be mirrored."""
        return self is not Kind.READ


class Order(enum.StrEnum):
    """How the rows of a list result are allowed to be ordered."""

    ORDERED = "ordered"
    """Position matters: row *i* on one side is compared with row *i* on the other."""
    UNORDERED = "unordered"
    """The list is a set (or multiset): compared after sorting by ``key``."""
    TIES = "ties"
    """Ordered by ``sort_key`` (or ``tie_key``); rows with equal sort keys may come in any order."""


def _frozen(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class Compare:
    """How to compare the two results of one method.

    ``rows`` names where the list of rows lives: ``None`` means the result
    itself when it is a list (or a mapping of id to row), ``"items"`` means the
    ``items`` field of a page-shaped result. ``key`` names the fields that
    identify a row; it is used to sort unordered lists, to break ties and to
    group rows when a mismatch is explained. ``sort_key`` is the declared order
    for :attr:`Order.TIES` (for example ``("starred", "created_at")``).

    Field names in ``ignore``, ``timestamps`` and ``sensitive`` apply at any
    depth of the result (a field of the result, or of any row inside it).
    ``sensitive`` also names *arguments*: a secret (password, token, invitation
    code, jwt secret) or personal data (email, display name, prompt text) is
    compared like any other value but never stored, logged or reported; the
    runtime replaces it with a redaction marker. ``sensitive_result`` marks the
    whole result as secret (``get_jwt_secret``).
    ``timestamps`` are values a database generates (DEFAULT, triggers); they
    never agree to the microsecond between two stores written moments apart.
    In a read's result they are compared within the largest recent write lag
    plus ``timestamp_precision`` seconds (a second-precision
    ``CURRENT_TIMESTAMP`` truncates up to one second). In a write's result a
    value is accepted only if it could have been produced by the call that
    returned it -- inside that side's own execution window, widened by the
    column's precision -- or, on both sides, predates the call (see
    ``shadow.runtime._stamps``). ``timestamp_precisions`` gives a column's own
    precision, in seconds (``0.001`` for a millisecond column), as
    ``(name, seconds)`` pairs; a column not named there has
    ``timestamp_precision``. The declaration decorators also accept
    ``timestamps`` as a mapping of name to precision.

    ``timestamp_result`` says the result *itself* is such a timestamp (a
    method returning a bare ``datetime``, or a list of them): it is compared
    by the same rules, with ``timestamp_precision``.

    ``tie_key`` declares the order of a result that does not carry the value
    it is ordered by (a list of ids ordered by creation time): with
    :attr:`Order.TIES`, ``tie_key(implementation, row)`` returns the value
    ``row`` is ordered by, read from the authoritative side's store through
    ``implementation`` (that side's implementation of the service, built in
    the worker from its factory, so it must open the same store: a file or a
    server database). Rows whose values are equal, or are datetimes within the
    read tolerance, may come in either order; nothing else may move. A row
    whose value is ``None`` (gone from the store by the time the key runs:
    it runs after the mirror, so later writes have happened) ties with any
    row, since its place can no longer be checked. Rows are
    given as plain data (a UUID as text). It runs only when the two results
    differ, and must be a module-level function for the process worker (it
    is pickled by name). ``key`` is then needed only when rows are records.
    """

    order: Order = Order.ORDERED
    rows: str | None = None
    key: tuple[str, ...] = ()
    sort_key: tuple[str, ...] = ()
    ignore: frozenset[str] = field(default_factory=frozenset)
    timestamps: frozenset[str] = field(default_factory=frozenset)
    timestamp_precision: float = 1.0
    timestamp_precisions: tuple[tuple[str, float], ...] = ()
    sensitive: frozenset[str] = field(default_factory=frozenset)
    sensitive_result: bool = False
    timestamp_result: bool = False
    tie_key: Callable[[Any, Any], Any] | None = None

    def __post_init__(self) -> None:
        if self.order is Order.TIES and not (self.sort_key or self.tie_key):
            raise ContractError("Order.TIES needs a sort_key (or a tie_key) naming the order")
        if self.sort_key and self.tie_key:
            raise ContractError("give either a sort_key or a tie_key, not both")
        if self.tie_key is not None and self.order is not Order.TIES:
            raise ContractError("a tie_key declares ties: it needs order=Order.TIES")
        if self.order is not Order.ORDERED and not self.key and self.tie_key is None:
            raise ContractError(f"Order.{self.order.name} needs a key identifying a row")
        for name, seconds in self.timestamp_precisions:
            if name not in self.timestamps or not seconds > 0:
                raise ContractError(
                    f"timestamp_precisions: {name!r} must be one of the timestamps,"
                    " with a precision above 0 seconds"
                )

    def precision_of(self, name: str) -> float:
        """How finely the store records timestamp field ``name``, in seconds."""
        for field_name, seconds in self.timestamp_precisions:
            if field_name == name:
                return seconds
        return self.timestamp_precision


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """A contract method's declaration: its name, kind and comparison spec."""

    name: str
    kind: Kind
    compare: Compare


def _declare(kind: Kind, compare: Compare | None, options: dict[str, Any]) -> Callable[[F], F]:
    if compare is not None and options:
        raise ContractError("pass either a Compare object or its fields, not both")
    spec_compare = compare if compare is not None else _compare_from(options)

    def mark(function: F) -> F:
        setattr(function, _SPEC_ATTRIBUTE, MethodSpec(function.__name__, kind, spec_compare))
        return function

    return mark


def _compare_from(options: dict[str, Any]) -> Compare:
    stamps = options.get("timestamps")
    if isinstance(stamps, Mapping):
        options["timestamp_precisions"] = tuple(sorted(stamps.items()))
    for name in ("ignore", "timestamps", "sensitive"):
        if name in options:
            options[name] = _frozen(options[name])
    for name in ("key", "sort_key"):
        if isinstance(options.get(name), str):
            options[name] = (options[name],)
    return Compare(**options)


def read(compare: Compare | None = None, **options: Any) -> Callable[[F], F]:
    """Declare a method that only reads. Options are :class:`Compare` fields."""
    return _declare(Kind.READ, compare, options)


def write(compare: Compare | None = None, **options: Any) -> Callable[[F], F]:
    """Declare a method that changes state (always mirrored while dual-written)."""
    return _declare(Kind.WRITE, compare, options)


def read_write(compare: Compare | None = None, **options: Any) -> Callable[[F], F]:
    """Declare a method that changes state and returns what it read (a dequeue)."""
    return _declare(Kind.READ_WRITE, compare, options)


CompareSpec = Compare | Mapping[str, Any]
"""A :class:`Compare`, or its fields as a mapping (as :func:`read` takes them)."""


def declare(
    contract: type,
    *,
    reads: Iterable[str] = (),
    writes: Iterable[str] = (),
    read_writes: Iterable[str] = (),
    compare: Mapping[str, CompareSpec] | None = None,
) -> type:
    """Declare the methods of an existing class, without writing a new one.

    For an application's own abstract base class (or a concrete class) that
    cannot carry shadow's decorators::

        declare(
            BoardRecordStorageBase,
            reads={"get", "get_many"},
            writes={"save", "delete"},
            compare={"get_many": {"order": Order.TIES, "key": "board_id",
                                  "sort_key": "created_at"}},
        )

    The specs are recorded on ``contract`` itself, so subclasses (both
    implementations) inherit them, and :func:`contract_methods` reads them like
    decorated ones. A method named twice, a name that is not a public method of
    the class, a ``compare`` entry for an undeclared method, or a method that
    already carries a decorator is a :class:`ContractError`; public methods left
    undeclared are still refused when a proxy is built. Returns ``contract``.
    """
    kinds: dict[str, Kind] = {}
    for kind, names in ((Kind.READ, reads), (Kind.WRITE, writes), (Kind.READ_WRITE, read_writes)):
        for name in [names] if isinstance(names, str) else names:
            if name in kinds:
                raise ContractError(f"{contract.__name__}.{name} is declared twice")
            kinds[name] = kind
    specs: dict[str, MethodSpec] = {}
    for name, kind in kinds.items():
        member = getattr(contract, name, None)
        if name.startswith("_") or not callable(member):
            raise ContractError(f"{contract.__name__} has no public method {name!r} to declare")
        if isinstance(getattr(member, _SPEC_ATTRIBUTE, None), MethodSpec):
            raise ContractError(f"{contract.__name__}.{name} is already declared by a decorator")
        specs[name] = MethodSpec(name, kind, _compare_of((compare or {}).get(name)))
    stray = set(compare or {}) - set(kinds)
    if stray:
        raise ContractError(
            f"{contract.__name__}: compare given for undeclared methods: {', '.join(sorted(stray))}"
        )
    inherited = getattr(contract, _DECLARED_ATTRIBUTE, {})
    setattr(contract, _DECLARED_ATTRIBUTE, {**inherited, **specs})
    return contract


def _compare_of(spec: CompareSpec | None) -> Compare:
    if spec is None:
        return Compare()
    if isinstance(spec, Compare):
        return spec
    return _compare_from(dict(spec))


def is_declared(cls: type, name: str) -> bool:
    """True when ``name`` is a declared contract method of ``cls`` (or of a class it inherits)."""
    declared: Mapping[str, MethodSpec] = getattr(cls, _DECLARED_ATTRIBUTE, {})
    return name in declared or isinstance(
        getattr(getattr(cls, name, None), _SPEC_ATTRIBUTE, None), MethodSpec
    )


def contract_methods(contract: type) -> dict[str, MethodSpec]:
    """Return the declared methods of ``contract``, by name.

    A method is declared by a decorator (:func:`read`, :func:`write`,
    :func:`read_write`) or by :func:`declare`. Raises :class:`ContractError`
    naming every public method that carries no declaration, so a contract is
    either fully declared or refused.
    """
    specs: dict[str, MethodSpec] = {}
    undeclared: list[str] = []
    declared: Mapping[str, MethodSpec] = getattr(contract, _DECLARED_ATTRIBUTE, {})
    for name, member in inspect.getmembers(contract, callable):
        if name.startswith("_"):
            continue
        spec = declared.get(name) or getattr(member, _SPEC_ATTRIBUTE, None)
        if isinstance(spec, MethodSpec):
            specs[name] = spec
        else:
            undeclared.append(name)
    if undeclared:
        raise ContractError(
            f"{contract.__name__} has public methods with no read/write declaration: "
            + ", ".join(sorted(undeclared)),
            contract=contract.__name__,
            methods=tuple(sorted(undeclared)),
        )
    if not specs:
        raise ContractError(f"{contract.__name__} declares no methods", contract=contract.__name__)
    return specs
