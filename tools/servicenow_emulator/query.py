"""ServiceNow encoded queries (`sysparm_query`): parse once, then match rows and order them.

Grammar as the Table API reads it: terms joined by `^` (AND); a term starting with `OR` is OR-ed with the
term before it (OR binds tighter than AND); `^NQ<term>` starts a new query whose rows are added; `ORDERBY<f>` and
`ORDERBYDESC<f>` set the order; a literal `^` inside a value is written `^^`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

# Longest first, so that "NOT LIKE" wins over "LIKE" and ">=" over ">".
OPERATORS = (
    "ISNOTEMPTY",
    "ISEMPTY",
    "ANYTHING",
    "NOT LIKE",
    "NOT IN",
    "STARTSWITH",
    "ENDSWITH",
    "LIKE",
    "IN",
    "!=",
    ">=",
    "<=",
    "=",
    ">",
    "<",
)
_UNARY = {"ISNOTEMPTY", "ISEMPTY", "ANYTHING"}
_FIELD = re.compile(r"[a-z_][a-z0-9_.]*")


class QueryError(ValueError):
    """The encoded query cannot be read; the message names the term."""


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    value: str

    def matches(self, row: Mapping[str, str]) -> bool:
        actual = row.get(self.field, "")
        return _TESTS[self.operator](actual, self.value)


@dataclass(frozen=True)
class Order:
    field: str
    descending: bool


@dataclass(frozen=True)
class EncodedQuery:
    """`groups` are OR-ed (NQ); each group's clauses are AND-ed; each clause's conditions are OR-ed."""

    groups: tuple[tuple[tuple[Condition, ...], ...], ...]
    order: tuple[Order, ...]

    def matches(self, row: Mapping[str, str]) -> bool:
        if not self.groups:
            return True
        return any(all(any(c.matches(row) for c in clause) for clause in group) for group in self.groups)

    def sort(self, rows: Sequence[Mapping[str, str]]) -> list[Mapping[str, str]]:
        ordered = list(rows)
        # Stable sorts applied last key first give a multi-key order with per-key direction.
        for order in reversed(self.order):
            ordered.sort(key=partial(_row_key, order.field), reverse=order.descending)
        return ordered


def _row_key(field: str, row: Mapping[str, str]) -> tuple[int, float, str]:
    return _sort_key(row.get(field, ""))


def _sort_key(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def _number_or_text(a: str, b: str) -> tuple[float, float] | tuple[str, str]:
    try:
        return float(a), float(b)
    except ValueError:
        return a, b


def _compare(test: Callable[[float | str, float | str], bool]) -> Callable[[str, str], bool]:
    def check(actual: str, expected: str) -> bool:
        if actual == "":
            return False
        left, right = _number_or_text(actual, expected)
        return test(left, right)

    return check


_TESTS: dict[str, Callable[[str, str], bool]] = {
    "=": lambda a, v: a == v,
    "!=": lambda a, v: a != v,
    "LIKE": lambda a, v: v.lower() in a.lower(),
    "NOT LIKE": lambda a, v: v.lower() not in a.lower(),
    "STARTSWITH": lambda a, v: a.lower().startswith(v.lower()),
    "ENDSWITH": lambda a, v: a.lower().endswith(v.lower()),
    "IN": lambda a, v: a in v.split(","),
    "NOT IN": lambda a, v: a not in v.split(","),
    "ISEMPTY": lambda a, v: a == "",
    "ISNOTEMPTY": lambda a, v: a != "",
    "ANYTHING": lambda a, v: True,
    ">": _compare(lambda a, b: a > b),  # type: ignore[operator]
    ">=": _compare(lambda a, b: a >= b),  # type: ignore[operator]
    "<": _compare(lambda a, b: a < b),  # type: ignore[operator]
    "<=": _compare(lambda a, b: a <= b),  # type: ignore[operator]
}


def _split_terms(text: str) -> list[str]:
    """Split on `^`, reading `^^` as a literal caret."""
    terms: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "^":
            if text.startswith("^^", i):
                current.append("^")
                i += 2
                continue
            terms.append("".join(current))
            current = []
        else:
            current.append(text[i])
        i += 1
    terms.append("".join(current))
    return [t for t in terms if t != ""]


def parse_condition(term: str) -> Condition:
    field_match = _FIELD.match(term)
    if field_match is None:
        raise QueryError(f"term {term!r}: expected a field name")
    field = field_match.group(0)
    rest = term[field_match.end() :]
    for operator in OPERATORS:
        if rest.startswith(operator):
            value = rest[len(operator) :]
            if operator in _UNARY and value:
                raise QueryError(f"term {term!r}: {operator} takes no value")
            return Condition(field, operator, value)
    raise QueryError(f"term {term!r}: no known operator after field {field!r}")


def parse(text: str) -> EncodedQuery:
    groups: list[tuple[tuple[Condition, ...], ...]] = []
    clauses: list[list[Condition]] = []
    order: list[Order] = []
    for term in _split_terms(text):
        if term.startswith("NQ"):  # `a^NQb`: a new query whose rows are added
            if clauses:
                groups.append(tuple(tuple(c) for c in clauses))
            clauses = [[parse_condition(term.removeprefix("NQ"))]] if term != "NQ" else []
        elif term.startswith("ORDERBYDESC"):
            order.append(Order(term.removeprefix("ORDERBYDESC"), True))
        elif term.startswith("ORDERBY"):
            order.append(Order(term.removeprefix("ORDERBY"), False))
        elif term.startswith("OR") and clauses:
            clauses[-1].append(parse_condition(term.removeprefix("OR")))
        else:
            clauses.append([parse_condition(term)])
    if clauses:
        groups.append(tuple(tuple(c) for c in clauses))
    return EncodedQuery(tuple(groups), tuple(order))
