"""SQL text normalized for comparison: what differs only in spelling compares equal.

Schema tools compare SQL that different tools wrote: a trigger body, an
expression index, a server default. SQLite keeps such text exactly as it was
typed, so the same definition written by two migrators differs in letter case
and layout (``OLD.id`` / ``old.id``, one line or four). :func:`normalized_sql`
splits the text into tokens and rebuilds it in one canonical spelling:

* keywords and identifiers are lower-cased (SQL compares them without case;
  quoted identifiers lose their quotes, as ``"images"`` and ``images`` name the
  same table);
* string literals are kept exactly: ``'in_progress'`` and ``'IN_PROGRESS'``
  are different values, and ``'%Y'`` and ``'%y'`` different formats;
* whitespace and comments go: tokens are joined by one space, so ``(a,b)`` and
  ``( a , b )`` read alike;
* a trailing ``;`` goes.
"""

from __future__ import annotations

import re

__all__ = ["normalized_sql", "sql_tokens"]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|--[^\n]*|/\*.*?\*/)       # whitespace and comments: dropped
    | (?P<string>'(?:[^']|'')*')            # a string literal: kept as written
    | (?P<quoted>"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\])  # a quoted identifier
    | (?P<word>[^\W\d]\w*|\d+(?:\.\d+)?)    # a keyword, bare identifier or number
    | (?P<other>.)                          # punctuation and operators, one at a time
    """,
    re.VERBOSE | re.DOTALL,
)


def sql_tokens(sql: str) -> list[str]:
    """The tokens of ``sql`` in canonical spelling (see the module docstring)."""
    tokens: list[str] = []
    for match in _TOKEN.finditer(sql):
        kind, text = match.lastgroup, match.group()
        if kind == "space":
            continue
        if kind == "string":
            tokens.append(text)
        elif kind == "quoted":
            tokens.append(text[1:-1].replace('""', '"').lower())
        else:
            tokens.append(text.lower())
    while tokens and tokens[-1] == ";":
        tokens.pop()
    return tokens


def normalized_sql(sql: str) -> str:
    """``sql`` in canonical spelling: equal for texts that differ only in case or layout."""
    return " ".join(sql_tokens(sql))
