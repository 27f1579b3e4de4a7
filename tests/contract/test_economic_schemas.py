"""Our description of what iexsync sends to e-conomic (tests/contract/economic/*.schema.json)
against the vendor's own schemas: every field we describe exists there with the same type
and no looser limits, and everything the vendor requires we require too. The fake checks
our writes against ours in a clone without the vendor folder, so ours must never be
looser than e-conomic's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.economic import OURS, SCHEMAS
from tests.vendor import vendor_json


def looser(ours: dict[str, Any], theirs: dict[str, Any], path: str = "body") -> list[str]:
    """Where `ours` accepts something `theirs` refuses."""
    problems = []
    if ours.get("type") != theirs.get("type"):
        problems.append(f"{path}: {ours.get('type')} here, {theirs.get('type')} at e-conomic")
    if "maxLength" in theirs and ours.get("maxLength", float("inf")) > theirs["maxLength"]:
        problems.append(f"{path}: maxLength {ours.get('maxLength')} here, {theirs['maxLength']} at e-conomic")
    for bound, worse in (("minimum", lambda a, b: a < b), ("maximum", lambda a, b: a > b)):
        if bound in theirs and (bound not in ours or worse(ours[bound], theirs[bound])):
            problems.append(f"{path}: {bound} {ours.get(bound)} here, {theirs[bound]} at e-conomic")
    for name in set(theirs.get("required", ())) - set(ours.get("required", ())):
        problems.append(f"{path}: e-conomic requires {name}")
    for name, child in ours.get("properties", {}).items():
        if name not in theirs.get("properties", {}):
            problems.append(f"{path}.{name}: not in e-conomic's schema")
        else:
            problems += looser(child, theirs["properties"][name], f"{path}.{name}")
    if "items" in ours:
        problems += looser(ours["items"], theirs.get("items", {}), f"{path}[]")
    return problems


@pytest.mark.parametrize("vendor_name", sorted(SCHEMAS))
def test_our_description_is_never_looser_than_the_vendors(vendor_name: str) -> None:
    theirs = vendor_json("economic", f"{vendor_name}.schema.json")
    ours = json.loads(Path(OURS, f"{SCHEMAS[vendor_name]}.schema.json").read_text())
    assert looser(ours, theirs) == []


def test_a_looser_description_is_caught() -> None:
    theirs = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 10},
                                                                     "n": {"type": "integer", "minimum": 1}}}
    ours = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}, "n": {"type": "integer"},
                                             "typo": {"type": "string"}}}
    assert sorted(looser(ours, theirs)) == [
        "body.n: minimum None here, 1 at e-conomic", "body.name: maxLength 20 here, 10 at e-conomic",
        "body.typo: not in e-conomic's schema", "body: e-conomic requires name"]
