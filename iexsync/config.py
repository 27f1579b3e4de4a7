"""The YAML config: read → ${ENV} → one JSON Schema → typed settings.

Every problem is reported at once, each with its path (`transfer.allowed_states[1]`) and
the file and line where it stands, before anything is written anywhere. The schema is
built from the core part below plus each connector's own `CONFIG_SCHEMA`, so
`iexsync config schema` publishes one schema editors can complete against.

A config that passed is remembered (`configfiles`): the next run with the same file,
environment and iexsync takes it without validating or parsing it again. PyYAML,
jsonschema, difflib and the connectors are imported only when they are needed.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from iexsync import configfiles, redaction, registry
from iexsync.configfiles import ENV as _ENV
from iexsync.errors import ConfigError

DOCUMENTS = ("invoice", "order")

_TRANSFER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["allowed_states"],
    "properties": {
        "allowed_states": {
            "type": "array", "minItems": 1, "uniqueItems": True,
            "items": {"type": "string", "minLength": 1},
            "description": "Order states that are transferred; an order in another state is logged 'Order state not allowed'.",
        },
        "document": {"enum": list(DOCUMENTS), "default": "invoice", "description": "What an order becomes."},
        "book": {"type": "boolean", "default": False, "description": "Book invoices automatically."},
        "per_state": {
            "type": "object",
            "description": "Handling by state, overriding `document` and `book`.",
            "default": {},
            "additionalProperties": {
                "type": "object", "additionalProperties": False,
                "properties": {"document": {"enum": list(DOCUMENTS)}, "book": {"type": "boolean"}},
            },
        },
        "refunds": {"enum": ["credit_note", "ignore"], "default": "credit_note",
                    "description": "What a refund of a transferred invoice becomes, whatever state the order is in now."},
        "cancelled_states": {
            "type": "array", "uniqueItems": True, "items": {"type": "string", "minLength": 1}, "default": ["cancelled"],
            "description": "States that void an order: its documents are handled by cancelled_drafts and cancelled_booked.",
        },
        "cancelled_drafts": {
            "enum": ["delete", "keep"], "default": "delete",
            "description": "An unbooked document (invoice or order draft) of a cancelled order: delete it, or keep it "
                           "with a warning naming it.",
        },
        "cancelled_booked": {
            "enum": ["warning", "credit_note"], "default": "warning",
            "description": "A booked invoice of a cancelled order: a warning naming it, or a credit note for what its "
                           "refunds do not credit already.",
        },
        "start_date": {
            "type": ["string", "null"], "format": "date", "default": None,
            "description": "Orders created before this date (YYYY-MM-DD) are not transferred.",
        },
        "document_date": {
            "enum": ["completed", "paid", "created", "transferred"], "default": "completed",
            "description": "The date on invoices and order documents, in the shop's time zone: completed (the delivery; "
                           "before it, the payment, else the order's creation), paid (else created), created, or "
                           "transferred (the day iexsync writes the document). Credit notes take their refund's date.",
        },
        "update_drafts": {"type": "boolean", "default": True, "description": "A changed order updates its unbooked draft."},
        "require_sku": {"type": "boolean", "default": False, "description": "An order with a product line without SKU is an error."},
        "rounding_tolerance": {
            "type": "number", "minimum": 0, "maximum": 1, "default": 0.02,
            "description": "A difference up to this between the lines and the shop's total becomes a rounding line; more is an error.",
        },
        "overlap_minutes": {
            "type": "integer", "minimum": 0, "maximum": 1440, "default": 10,
            "description": "How far back each run re-reads before the cursor, for orders a shop saved late.",
        },
        "workers": {
            "type": "integer", "minimum": 1, "maximum": 32, "default": 4,
            "description": "Orders worked on at once. Remote latency dominates a run, so a few in flight make it "
                           "faster; the accounting system's rate limit (its connector's rate_limit) still holds.",
        },
        "reference_prefix": {
            "type": "string", "pattern": "^[A-Za-z0-9_-]{1,20}$", "default": "iexsync",
            "description": "Starts the reference every document carries, e.g. iexsync:woocommerce:1234.",
        },
    },
}

_NOTIFY_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "default": {},
    "description": "Telling a human: mail on new errors and warnings, a daily digest, a ping URL.",
    "properties": {
        "email": {
            "type": "object", "additionalProperties": False, "required": ["to", "host"],
            "properties": {
                "to": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$"},
                       "description": "Who gets the mail."},
                "from": {"type": "string", "default": "iexsync@localhost", "description": "The sender address."},
                "host": {"type": "string", "minLength": 1, "description": "The SMTP server."},
                "port": {"type": "integer", "minimum": 1, "maximum": 65535,
                         "description": "Default: 587 for starttls, 465 for ssl, 25 for none."},
                "security": {"enum": ["starttls", "ssl", "none"], "default": "starttls",
                             "description": "How the connection is protected."},
                "username": {"type": "string", "description": "Login name, if the server wants one."},
                "password": {"type": "string", "writeOnly": True, "description": "Its password (use ${ENV})."},
                "digest": {"type": "boolean", "default": False,
                           "description": "Also a daily digest: the last 24 hours' counts and what waits for a human."},
                "timeout": {"type": "number", "minimum": 1, "default": 30, "description": "Seconds to wait for the server."},
            },
        },
        "ping_url": {"type": "string", "pattern": "^https?://",
                     "description": "Pinged at a run's start (/start), success and failure (/fail), healthchecks.io style."},
    },
}

_CORE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://iexsync.invalid/config.schema.json",
    "title": "iexsync configuration",
    "type": "object",
    "additionalProperties": False,
    "required": ["shop", "accounting", "transfer"],
    "properties": {
        "shop": {"type": "object", "description": "Where orders come from.", "required": ["platform"]},
        "accounting": {"type": "object", "description": "Where documents go.", "required": ["system"]},
        "transfer": _TRANSFER_SCHEMA,
        "mappings": {
            "type": "object", "default": {},
            "description": "Document fields from templates over the order, e.g. heading: 'Order {{ order.number }}'.",
            "additionalProperties": {"type": "string"},
        },
        "filters": {
            "type": "array", "default": [],
            "description": "Rules that skip an order: the first whose `skip_if` is true names the skip.",
            "items": {
                "type": "object", "additionalProperties": False, "required": ["name", "skip_if"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "skip_if": {"type": "string", "minLength": 1, "description": "An expression, e.g. order.total == 0"},
                },
            },
        },
        "notify": _NOTIFY_SCHEMA,
        "log": {
            "type": "object", "additionalProperties": False, "default": {},
            "properties": {
                "path": {"type": "string", "default": "iexsync.db", "description": "The SQLite log, relative to the config file."},
                "lock_path": {"type": "string", "description": "The lock file; default: the log path plus .lock."},
            },
        },
    },
}


@dataclass(frozen=True)
class StateRule:
    document: str
    book: bool


@dataclass(frozen=True)
class TransferSettings:
    """`transfer:` typed; the defaults live in the schema (`_TRANSFER_SCHEMA`)."""

    allowed_states: tuple[str, ...]
    document: str
    book: bool
    per_state: Mapping[str, StateRule]
    refunds: str
    start_date: dt.date | None
    update_drafts: bool
    document_date: str
    require_sku: bool
    rounding_tolerance: Decimal
    overlap_minutes: int
    workers: int
    reference_prefix: str
    cancelled_states: tuple[str, ...] = ("cancelled",)
    cancelled_drafts: str = "delete"  # delete | keep
    cancelled_booked: str = "warning"  # warning | credit_note

    def rule_for(self, state: str) -> StateRule | None:
        """What an order in `state` becomes, or None if the state is not allowed."""
        if state not in self.allowed_states:
            return None
        return self.per_state.get(state) or StateRule(self.document, self.book)


@dataclass(frozen=True)
class Filter:
    name: str
    skip_if: str


@dataclass(frozen=True)
class Settings:
    path: Path
    shop: Mapping[str, Any]
    accounting: Mapping[str, Any]
    transfer: TransferSettings
    mappings: Mapping[str, str]
    filters: tuple[Filter, ...]
    log_path: Path
    lock_path: Path
    fingerprint: str  # changes when the config changes: permanent errors are retried then
    holds_secrets: bool = False  # the file itself holds a secret (not a ${NAME} reference)
    notify: Mapping[str, Any] = field(default_factory=dict)  # `notify:` with its defaults

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def full_schema(platforms: list[str] | None = None, systems: list[str] | None = None) -> dict[str, Any]:
    """The whole config schema: the core plus every connector's section."""
    schema = json.loads(json.dumps(_CORE_SCHEMA))
    for key, kind, discriminator, names in (
        ("shop", "shops", "platform", platforms),
        ("accounting", "books", "system", systems),
    ):
        names = names if names is not None else registry.available(kind)
        section = schema["properties"][key]
        section["properties"] = {discriminator: {"enum": names, "description": f"One of: {', '.join(names)}."}}
        section["allOf"] = []
        for name in names:
            connector = registry.load(kind, name)
            own = connector.CONFIG_SCHEMA
            section["allOf"].append(
                {
                    "if": {"properties": {discriminator: {"const": name}}, "required": [discriminator]},
                    "then": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": list(own.get("required", [])),
                        "properties": {discriminator: {"const": name}, **own.get("properties", {})},
                    },
                }
            )
    return schema


def default_config_path() -> Path:
    """$IEXSYNC_CONFIG, else config.yaml in the platform's config folder for iexsync."""
    return Path(configfiles.default_config_path())


def load(path: Path | str) -> Settings:
    """Read, substitute, validate and type the config; raise ConfigError with every problem."""
    path = Path(path)
    text = _read(path)
    passed = configfiles.remembered(text)
    raw = _remembered_tree(passed, text) if passed is not None else None
    lines: dict[tuple, int] = {}
    spans: dict[tuple, tuple[int, int]] = {}
    if raw is None:
        raw, lines, spans = _parse(text, str(path))
    problems: list[str] = []
    tree = _plain(_substitute_env(raw, (), problems, lines))
    schema = None
    if passed is not None and isinstance(passed.get("secret_paths"), list):
        secrets = [tuple(p) for p in passed["secret_paths"]]  # as the schema said when it passed
    else:
        schema = _schema_for(*_connector_names(tree), problems, lines)
        secrets = secret_paths(tree, schema)
    _register_secrets(tree, secrets)  # first: a problem's message may quote a (mistyped) secret
    if passed is not None:
        holds_secrets = passed["holds_secrets"]
    else:
        assert schema is not None
        _validate_all(tree, schema, problems, lines, str(path))
        plain = _plain(raw)
        held = _held_in_file(plain, secrets)
        holds_secrets = bool(held)
        _remember(text, plain, held, spans, tree, secrets)
    return _typed(path, tree, holds_secrets)


# --- reading -----------------------------------------------------------------------------

def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [f"no config file at {path}; pass --config FILE or set IEXSYNC_CONFIG, or write one with "
             f"`iexsync config init {path}`"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read {path}: {exc}"]) from None


@functools.cache
def _loader() -> Any:
    """SafeLoader that leaves dates as the text the admin wrote: the schema checks them,
    with a path, instead of PyYAML failing on 2026-13-01 with no path at all."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


def _parse(text: str, source: str) -> tuple[dict[str, Any], dict[tuple, int], dict[tuple, tuple[int, int]]]:
    """The file's mapping, the line of each path in it and where in the text each scalar
    stands; ConfigError if it is not a mapping."""
    import yaml

    try:
        tree, lines, spans = _parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(exc)], source) from None
    if not isinstance(tree, dict):
        raise ConfigError(["the file must hold a mapping with the keys shop, accounting and transfer"], source)
    return tree, lines, spans


def _yaml_problem(exc: Any) -> str:
    """PyYAML's complaint, put plainly for the mistakes people make: a tab, an unclosed quote."""
    mark = getattr(exc, "problem_mark", None)
    opened = getattr(exc, "context_mark", None)
    context = getattr(exc, "context", None) or ""
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    if "'\\t'" in problem or "\t" in problem:
        return f"the file is not valid YAML{where}: a tab; use spaces, not tabs, for indentation"
    if "quoted scalar" in context and opened is not None:
        return (f"the file is not valid YAML: the quote opened on line {opened.line + 1}, column "
                f"{opened.column + 1} is never closed")
    return f"the file is not valid YAML{where}: {problem}"


def _parse_yaml(text: str) -> tuple[Any, dict[tuple, int], dict[tuple, tuple[int, int]]]:
    """The data and, for each path in it, the line it stands on (1-based) and, for a scalar,
    its start and end in `text`."""
    import yaml

    node = yaml.compose(text, Loader=_loader())
    if node is None:
        return None, {}, {}
    lines: dict[tuple, int] = {}
    spans: dict[tuple, tuple[int, int]] = {}
    _record(node, (), lines, spans)
    return yaml.load(text, Loader=_loader()), lines, spans  # noqa: S506 - a SafeLoader subclass


def _record(node: Any, path: tuple, lines: dict[tuple, int], spans: dict[tuple, tuple[int, int]]) -> None:
    import yaml

    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = path + (key.value,)
            lines[child] = key.start_mark.line + 1
            _record(value, child, lines, spans)
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record(item, path + (index,), lines, spans)
    else:
        spans[path] = (node.start_mark.index, node.end_mark.index)


def _substitute_env(value: Any, path: tuple, problems: list[str], lines: dict[tuple, int]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute_env(v, path + (k,), problems, lines) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_env(v, path + (i,), problems, lines) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                said = f"the environment variable {name} is not set"
                if not any(problem.endswith(said) for problem in problems):  # once each, at its first use
                    problems.append(f"{_at(path, lines)}: {said}")
                return ""
            return os.environ[name]

        return _ENV.sub(replace, value)
    return value


def _plain(value: Any) -> Any:
    """Keys become strings (YAML allows `7:`), so paths and the schema see text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


# --- validating --------------------------------------------------------------------------

def _connector_names(tree: Any) -> tuple[Any, Any]:
    """The shop's platform and the accounting system the file names (None where it names none)."""
    names = []
    for section, key in (("shop", "platform"), ("accounting", "system")):
        part = tree.get(section) if isinstance(tree, dict) else None
        names.append(part.get(key) if isinstance(part, dict) else None)
    return names[0], names[1]


def _validate_all(tree: dict[str, Any], schema: dict[str, Any], problems: list[str], lines: dict[tuple, int],
                  source: str) -> None:
    """Raise ConfigError with `problems` (unknown connectors among them: `_schema_for`) and
    every other one: the schema (core and the named connectors'), templates that do not parse."""
    problems += _validate(tree, schema, lines)
    problems += _template_problems(tree, lines)
    problems += _notify_problems(tree, lines)
    if problems:
        raise ConfigError(problems, source)


def _schema_for(platform: Any, system: Any, problems: list[str], lines: dict[tuple, int]) -> dict[str, Any]:
    """The schema for this file: only the named connectors are imported."""
    platforms, systems = [], []
    for name, kind, key, found in (
        (platform, "shops", ("shop", "platform"), platforms),
        (system, "books", ("accounting", "system"), systems),
    ):
        if not isinstance(name, str):
            continue  # the schema reports the missing or mistyped key
        try:
            registry.load(kind, name)
        except KeyError:
            known = registry.names(kind)
            problems.append(f"{_at(key, lines)}: unknown {key[1]} {name!r}{_did_you_mean(name, known)}; known: {', '.join(known)}")
            continue
        except ImportError as exc:
            problems.append(f"{_at(key, lines)}: the {name!r} connector cannot be loaded: {exc}")
            continue
        found.append(name)
    return full_schema(platforms, systems)


def _validate(tree: dict[str, Any], schema: dict[str, Any], lines: dict[tuple, int]) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    problems = []
    for error in sorted(_leaf_errors(validator.iter_errors(tree)), key=lambda e: list(map(str, e.absolute_path))):
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = list(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - set(allowed)):
                problems.append(f"{_at(path + (key,), lines)}: unknown key {key!r}{_did_you_mean(key, allowed)}")
        elif error.validator == "enum" and path and path[-1] in ("platform", "system"):
            continue  # already said by _schema_for, with suggestions
        else:
            problems.append(f"{_at(path, lines)}: {_explain(error)}")
    return problems


def _leaf_errors(errors: Iterator[Any]) -> Iterator[Any]:
    """The errors inside if/then and allOf, not the wrappers around them."""
    for error in errors:
        if error.context:
            yield from _leaf_errors(iter(error.context))
        else:
            yield error


def _explain(error: Any) -> str:
    if error.validator == "required":
        return error.message.replace("is a required property", "is missing")
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(repr, error.validator_value))}"
    if error.validator == "format" and error.validator_value == "date":
        return f"{error.instance!r} is not a date like 2026-01-01"
    if error.validator == "type":
        return f"{error.instance!r} should be {_type_name(error.validator_value)}"
    return error.message


def _type_name(kind: Any) -> str:
    names = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
             "array": "a list", "object": "a mapping", "null": "empty"}
    kinds = kind if isinstance(kind, list) else [kind]
    return " or ".join(names.get(k, k) for k in kinds)


def _at(path: tuple, lines: dict[tuple, int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    line = None
    for length in range(len(path), -1, -1):
        line = lines.get(tuple(path[:length]))
        if line:
            break
    return f"{text or '(top)'} (line {line})" if line else (text or "(top)")


def _did_you_mean(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _template_problems(tree: dict[str, Any], lines: dict[tuple, int]) -> list[str]:
    """Templates and expressions that do not parse; reported with the schema's problems
    (the schema reports anything that is not text), so an admin fixes all in one go."""
    mappings = tree.get("mappings")
    filters = tree.get("filters")
    sources = [(("mappings", key), value, False) for key, value in mappings.items()] if isinstance(mappings, dict) else []
    if isinstance(filters, list):
        sources += [(("filters", index, "skip_if"), rule.get("skip_if"), True)
                    for index, rule in enumerate(filters) if isinstance(rule, dict)]
    sources = [(path, value, is_expression) for path, value, is_expression in sources if isinstance(value, str)]
    if not sources:
        return []
    from iexsync import templates  # jinja2 only for configs that use it

    problems = []
    for where, source, is_expression in sources:
        problem = templates.syntax_problem(source, is_expression=is_expression)
        if problem:
            what = "expression" if is_expression else "template"
            problems.append(f"{_at(where, lines)}: the {what} does not parse: {problem}")
    return problems


# --- remembering a config that passed (configfiles) -----------------------------------------
# Validation is a pure function of the config (after ${ENV}) and of iexsync's own code, and
# importing PyYAML, jsonschema and the connectors for it costs more than the rest of an idle
# cron run or a `log search`.

def _remember(text: str, raw: dict[str, Any], secrets: list[tuple], spans: dict[tuple, tuple[int, int]],
              tree: dict[str, Any], declared: list[tuple]) -> None:
    """Remember a config that passed: `raw` as written (before ${ENV}), `tree` as validated.
    A secret written in the file is kept as where it stands in the text (which the entry's
    key fixes), never as itself; if one cannot be found that way, the data is not kept."""
    located = []
    for path in secrets:
        start, end = spans.get(path, (0, 0))
        for start, end in ((start, end), (start + 1, end - 1)):  # plain, or inside its quotes
            if text[start:end] == _at_path(raw, path):
                located.append([list(path), start, end])
                break
    kept = None
    if len(located) == len(secrets):
        import copy

        kept = copy.deepcopy(raw)
        for path in secrets:
            _at_path(kept, path[:-1])[path[-1]] = None
    try:
        if kept is not None and json.loads(json.dumps(kept)) != kept:
            kept = None  # only data that JSON keeps exactly (no binary, no NaN)
    except (TypeError, ValueError):
        kept = None
    try:
        log = _with_defaults(raw.get("log", {}), _CORE_SCHEMA["properties"]["log"])
        entry = {"code": _code_files(tree), "tree": kept, "secrets": located if kept is not None else [],
                 "holds_secrets": bool(secrets), "log": {"path": log["path"]},
                 "secret_paths": [list(p) for p in declared]}
    except (TypeError, OSError, KeyError, ImportError):
        return
    configfiles.remember(text, entry)


def _remembered_tree(passed: dict[str, Any], text: str) -> dict[str, Any] | None:
    """The data of a remembered config, its secrets taken from the text; None if not kept."""
    tree = passed["tree"]
    try:
        for path, start, end in passed.get("secrets", []) if tree is not None else ():
            _at_path(tree, path[:-1])[path[-1]] = text[start:end]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return tree


def _at_path(tree: Any, path: Any) -> Any:
    for part in path:
        tree = tree[part]
    return tree


def _code_files(tree: dict[str, Any]) -> list[list[Any]]:
    """The files of iexsync's loaded modules and of the config's connectors (a third party's
    too), with their modification times."""
    names = [name for name in sys.modules if name == "iexsync" or name.startswith("iexsync.")]
    for kind, section, key in (("shops", "shop", "platform"), ("books", "accounting", "system")):
        names.append(registry.load(kind, tree[section][key]).__module__)  # loaded already: it passed
    stamps = {}
    for name in names:
        file = getattr(sys.modules.get(name), "__file__", None)
        if file:
            stamps[file] = os.stat(file).st_mtime_ns
    return [[file, mtime] for file, mtime in sorted(stamps.items())]


# --- typing ------------------------------------------------------------------------------

# --- secrets: declared in the schema --------------------------------------------------------
# A field is a secret because its schema says `"writeOnly": true` (JSON Schema's word for a
# value that is given, never shown back): the core's and each connector's CONFIG_SCHEMA
# declare their own, and nothing here knows their names.

def secret_paths(tree: Any, schema: Any, path: tuple = ()) -> list[tuple]:
    """Every path in `tree` whose value the schema declares a secret (writeOnly; under a
    writeOnly object or list, each value in it). A connector's section counts when its
    `if` (the platform or system it is for) matches the tree."""
    if not isinstance(schema, dict):
        return []
    if schema.get("writeOnly") is True:
        return _leaves(tree, path)
    found = []
    for part in schema.get("allOf", []):
        condition = part.get("if") if isinstance(part, dict) else None
        if condition is None:
            found += secret_paths(tree, part, path)
        elif _matches(tree, condition):
            found += secret_paths(tree, part.get("then"), path)
    if isinstance(tree, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, value in tree.items():
            found += secret_paths(value, properties.get(key, extra), path + (key,))
    elif isinstance(tree, list):
        found += [p for i, value in enumerate(tree) for p in secret_paths(value, schema.get("items"), path + (i,))]
    return list(dict.fromkeys(found))


def _matches(tree: Any, condition: dict[str, Any]) -> bool:
    """A connector section's `if`: every `const` it names holds in the tree."""
    consts = {k: v["const"] for k, v in condition.get("properties", {}).items() if "const" in v}
    return isinstance(tree, dict) and all(k in tree and tree[k] == v for k, v in consts.items())


def _leaves(tree: Any, path: tuple) -> list[tuple]:
    if isinstance(tree, dict):
        return [p for k, v in tree.items() for p in _leaves(v, path + (k,))]
    if isinstance(tree, list):
        return [p for i, v in enumerate(tree) for p in _leaves(v, path + (i,))]
    return [] if tree is None or isinstance(tree, bool) else [path]


def _register_secrets(tree: Any, paths: list[tuple]) -> None:
    for path in paths:
        try:
            value = _at_path(tree, path)
        except (KeyError, IndexError, TypeError):
            continue  # a remembered path this tree lacks: nothing to hide there
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            redaction.register(str(value))  # a mistyped (numeric) token is still a secret


_ONLY_VARIABLES = re.compile(r"(?:\$\{[A-Za-z_][A-Za-z0-9_]*\})+")


def _held_in_file(raw: Any, secrets: list[tuple]) -> list[tuple]:
    """The secrets the file itself holds: those not made only of ${NAME} references."""
    held = []
    for path in secrets:
        try:
            value = _at_path(raw, path)
        except (KeyError, IndexError, TypeError):
            continue
        if not (isinstance(value, str) and _ONLY_VARIABLES.fullmatch(value)):
            held.append(path)
    return held


def _with_defaults(section: Mapping[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The section with the schema's defaults filled in: the schema is the one place they live."""
    defaults = {key: spec["default"] for key, spec in schema["properties"].items() if "default" in spec}
    return {**defaults, **section}


def _typed(path: Path, tree: dict[str, Any], holds_secrets: bool) -> Settings:
    transfer = _with_defaults(tree["transfer"], _TRANSFER_SCHEMA)
    log = _with_defaults(tree.get("log", {}), _CORE_SCHEMA["properties"]["log"])
    base = path.parent
    log_path = (base / log["path"]).resolve()
    lock_path = (base / log["lock_path"]).resolve() if log.get("lock_path") else Path(str(log_path) + ".lock")
    start = transfer["start_date"]
    return Settings(
        path=path.resolve(),
        shop=tree["shop"],
        accounting=tree["accounting"],
        transfer=TransferSettings(
            allowed_states=tuple(transfer["allowed_states"]),
            document=transfer["document"],
            book=transfer["book"],
            per_state={
                state: StateRule(rule.get("document", transfer["document"]), rule.get("book", transfer["book"]))
                for state, rule in transfer["per_state"].items()
            },
            refunds=transfer["refunds"],
            start_date=dt.date.fromisoformat(start) if start else None,
            update_drafts=transfer["update_drafts"],
            document_date=transfer["document_date"],
            require_sku=transfer["require_sku"],
            rounding_tolerance=Decimal(str(transfer["rounding_tolerance"])),
            overlap_minutes=transfer["overlap_minutes"],
            workers=transfer["workers"],
            reference_prefix=transfer["reference_prefix"],
            cancelled_states=tuple(transfer["cancelled_states"]),
            cancelled_drafts=transfer["cancelled_drafts"],
            cancelled_booked=transfer["cancelled_booked"],
        ),
        mappings=tree.get("mappings", {}),
        filters=tuple(Filter(f["name"], f["skip_if"]) for f in tree.get("filters", [])),
        log_path=log_path,
        lock_path=lock_path,
        fingerprint=hashlib.sha256(json.dumps(tree, sort_keys=True).encode()).hexdigest()[:16],
        holds_secrets=holds_secrets,
        notify=notify_settings(tree.get("notify") or {}),
    )


# --- notify: (operations) ------------------------------------------------------------------

def notify_settings(section: Mapping[str, Any]) -> dict[str, Any]:
    """`notify:` with the schema's defaults filled in (the email part's too)."""
    typed = dict(section)
    if typed.get("email"):
        typed["email"] = _with_defaults(typed["email"], _NOTIFY_SCHEMA["properties"]["email"])
    return typed


def _notify_problems(tree: dict[str, Any], lines: dict[tuple, int]) -> list[str]:
    """What the schema cannot say: a password that would travel in clear to another host."""
    email = (tree.get("notify") or {}).get("email") if isinstance(tree.get("notify"), dict) else None
    if not isinstance(email, dict) or email.get("security") != "none" or not email.get("username"):
        return []
    if str(email.get("host")) in ("localhost", "127.0.0.1", "::1"):
        return []
    return [f"{_at(('notify', 'email', 'security'), lines)}: 'none' would send the password in clear to "
            f"{email.get('host')}; set security: starttls or ssl"]
