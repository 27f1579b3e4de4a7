"""A connector's settings from its validated config section, defaults from its own schema.

The loader validates a section against the connector's CONFIG_SCHEMA without filling in
defaults (the published schema says what they are); `with_defaults` fills them in from
that same schema, so no connector repeats a default in code. A nested object given in
part keeps the defaults of the keys it leaves out; a map (additionalProperties) is taken
as given.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def with_defaults(schema: Mapping[str, Any], section: Mapping[str, Any]) -> dict[str, Any]:
    """`section` with every default its `schema` declares, nested objects included."""
    filled = dict(section)
    for key, prop in (schema.get("properties") or {}).items():
        if key in section:
            value = section[key]
        elif "default" in prop:
            value = copy.deepcopy(prop["default"])
        else:
            continue
        if prop.get("properties") and isinstance(value, Mapping):
            value = with_defaults(prop, value)
        filled[key] = value
    return filled
