"""e-conomic's `?filter=` language, parsed and evaluated for the fake server.

From e-conomic/slate @ f6bf5a4 `_introduction.md`: predicates `property$op:value` with
$eq $ne $gt $gte $lt $lte $like $in $nin, chained by $and: / $or:, grouped by
parentheses; `$null:` stands for "no value"; `$like:` uses `*` wildcards and without
one means "contains"; string matching is case-insensitive; $in/$nin take a bracketed
list of at most 200 numbers. Escapes: $$ $( $) $* $, $[ $].
[ours] $and binds tighter than $or (the docs only say parentheses set affinity).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

OPERATORS = ("$gte:", "$lte:", "$gt:", "$lt:", "$eq:", "$ne:", "$like:", "$in:", "$nin:")
MAX_IN = 200
NULL = object()


class FilterError(ValueError):
    pass


@dataclass
class Predicate:
    field: str
    op: str
    value: Any  # list of (is_wildcard, text) segments, NULL, or a list for $in/$nin


@dataclass
class Logic:
    op: str  # "and" | "or"
    parts: list[Any]


def parse(text: str) -> Any:
    parser = _Parser(text)
    node = parser.or_expr()
    if parser.pos != len(text):
        raise FilterError(f"unexpected {text[parser.pos:parser.pos + 10]!r} at position {parser.pos}")
    return node


def fields(node: Any) -> list[str]:
    if isinstance(node, Predicate):
        return [node.field]
    return [f for part in node.parts for f in fields(part)]


def matches(node: Any, item: dict[str, Any]) -> bool:
    if isinstance(node, Logic):
        results = (matches(part, item) for part in node.parts)
        return all(results) if node.op == "and" else any(results)
    return _predicate(node, _lookup(item, node.field))


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def startswith(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def or_expr(self) -> Any:
        parts = [self.and_expr()]
        while self.startswith("$or:"):
            self.pos += 4
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Logic("or", parts)

    def and_expr(self) -> Any:
        parts = [self.term()]
        while self.startswith("$and:"):
            self.pos += 5
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else Logic("and", parts)

    def term(self) -> Any:
        if self.startswith("("):
            self.pos += 1
            node = self.or_expr()
            if not self.startswith(")"):
                raise FilterError(f"missing ')' at position {self.pos}")
            self.pos += 1
            return node
        return self.predicate()

    def predicate(self) -> Predicate:
        match = re.compile(r"[A-Za-z][A-Za-z0-9.]*").match(self.text, self.pos)
        if not match:
            raise FilterError(f"expected a property name at position {self.pos}")
        self.pos = match.end()
        for op in OPERATORS:
            if self.startswith(op):
                self.pos += len(op)
                break
        else:
            raise FilterError(f"expected an operator after {match.group()!r}")
        if op in ("$in:", "$nin:"):
            return Predicate(match.group(), op, self.in_list())
        return Predicate(match.group(), op, self.value())

    def value(self) -> Any:
        segments: list[tuple[bool, str]] = []
        while self.pos < len(self.text):
            if self.startswith("$and:") or self.startswith("$or:") or self.startswith(")"):
                break
            if self.startswith("$null:"):
                self.pos += 6
                if segments:
                    raise FilterError("$null: must stand alone")
                return NULL
            char = self.text[self.pos]
            if char == "$":
                escaped = self.text[self.pos + 1:self.pos + 2]
                if escaped not in ("$", "(", ")", "*", ",", "[", "]"):
                    raise FilterError(f"unknown escape ${escaped} at position {self.pos}")
                segments.append((False, escaped))
                self.pos += 2
                continue
            if char == "(":
                raise FilterError(f"unescaped '(' at position {self.pos}")
            segments.append((char == "*", char))
            self.pos += 1
        return segments

    def in_list(self) -> list[Any]:
        if not self.startswith("["):
            raise FilterError("$in: and $nin: take a [list]")
        end = self.text.find("]", self.pos)
        if end < 0:
            raise FilterError("missing ']'")
        raw = self.text[self.pos + 1:end]
        self.pos = end + 1
        values: list[Any] = []
        for part in raw.split(","):
            part = part.strip()
            if part == "$null:":
                values.append(NULL)
                continue
            try:
                values.append(Decimal(part))
            except InvalidOperation:
                raise FilterError(f"$in: takes numbers only, got {part!r}") from None
        if len(values) > MAX_IN:
            raise FilterError(f"$in: takes at most {MAX_IN} values")
        return values


def _lookup(item: dict[str, Any], dotted: str) -> Any:
    value: Any = item
    for key in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(segments: list[tuple[bool, str]]) -> str:
    return "".join(char for _, char in segments)


def _predicate(node: Predicate, actual: Any) -> bool:
    if node.op in ("$in:", "$nin:"):
        inside = any(
            (v is NULL and actual is None) or (v is not NULL and _number(actual) == v) for v in node.value
        )
        return inside if node.op == "$in:" else not inside
    if node.value is NULL:
        if node.op == "$eq:":
            return actual is None
        if node.op == "$ne:":
            return actual is not None
        raise FilterError(f"{node.op} cannot compare with $null:")
    if actual is None:
        return node.op == "$ne:"
    if node.op == "$like:":
        segments = node.value
        if not any(wild for wild, _ in segments):
            return _text(segments).casefold() in str(actual).casefold()
        pattern = "".join(".*" if wild else re.escape(char) for wild, char in segments)
        return re.fullmatch(pattern, str(actual), re.IGNORECASE | re.DOTALL) is not None
    wanted = _text(node.value)
    if isinstance(actual, bool):
        left, right = str(actual).lower(), wanted.lower()
    elif isinstance(actual, (int, Decimal)):
        number = _number(wanted)
        if number is None:
            return node.op == "$ne:"
        left, right = Decimal(actual), number
    else:
        left, right = str(actual).casefold(), wanted.casefold()
    return {
        "$eq:": left == right, "$ne:": left != right, "$gt:": left > right,
        "$gte:": left >= right, "$lt:": left < right, "$lte:": left <= right,
    }[node.op]


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
