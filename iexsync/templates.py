"""Admin-written templates and expressions, run in jinja2's sandbox.

`mappings:` values are templates (`Order {{ order.number }}`); `filters[].skip_if` are
expressions (`order.shop_total == 0`). The sandbox keeps a config file from reaching
anything but the order; StrictUndefined turns a typo into an error instead of a blank.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@lru_cache(maxsize=256)
def template(source: str) -> Any:
    return environment().from_string(source)


@lru_cache(maxsize=256)
def expression(source: str) -> Any:
    return environment().compile_expression(source, undefined_to_none=False)


def syntax_problem(source: str, *, is_expression: bool) -> str | None:
    """None if `source` compiles, else what is wrong with it."""
    try:
        expression(source) if is_expression else template(source)
    except TemplateError as exc:
        return exc.message or str(exc)
    return None


def render(source: str, context: dict[str, Any]) -> str:
    return template(source).render(**context).strip()


def evaluate(source: str, context: dict[str, Any]) -> Any:
    return expression(source)(**context)
