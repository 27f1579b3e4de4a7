"""Where the config is, and what is remembered about configs that passed.

These are the parts of the config that `iexsync log search` needs when the config passed
before, kept apart from `config.py` so that they import nothing heavy: no dataclasses,
PyYAML, jsonschema or connector, and no platformdirs on Linux (see `_user_dir`).

A config that passed validation is remembered in the user's cache folder, under a hash of
its text, of the values of the environment variables it names and of iexsync's version.
The entry lists the files of iexsync's code and of the config's connectors that were
loaded when it passed, with their modification times, and is taken only while every one is
unchanged: any change to the file, to the environment it reads, or to iexsync validates it
again. Entries are written with `marshal`, as Python's own bytecode cache is: it is built
in, so a `log search` reads its entry without importing `json` (a twentieth of its start);
the Python version is part of the hash, since marshal's format is its own. The entry keeps
the file's data as written, before ${ENV} (so no variable's value is in it), and no secret
the file holds itself (a field the schema declares writeOnly; the entry keeps where the
declared secrets stand, so a remembered run registers them unread): such a value is kept
as where it stands in the text — which the hash fixes — and taken from the text again on
the next run. (A secret that cannot be found that way, say one in a folded block, leaves
the data out: that file is parsed again each time.) Entries are readable by their owner
only, and written whole, so a reader never sees half of one.
"""

from __future__ import annotations

import marshal
import os
import re
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
CACHE_FORMAT = 3


def default_config_path() -> str:
    """$IEXSYNC_CONFIG, else config.yaml in the platform's config folder for iexsync."""
    return os.environ.get("IEXSYNC_CONFIG") or os.path.join(_user_dir("config"), "config.yaml")


def cache_folder() -> str:
    return os.path.join(_user_dir("cache"), "valid-configs")


def _user_dir(kind: str) -> str:
    """platformdirs' user_config_dir or user_cache_dir for iexsync. On Linux that is XDG's
    $XDG_CONFIG_HOME or $XDG_CACHE_HOME when absolute, else ~/.config or ~/.cache — found
    here without importing platformdirs, which costs a `log search` a fifth of its time
    (tests/test_config.py holds the two to the same answers)."""
    if sys.platform.startswith("linux"):
        base = os.environ.get(f"XDG_{kind.upper()}_HOME", "")
        if not os.path.isabs(base):
            base = os.path.join(_home(), f".{kind}")
        return os.path.join(base, "iexsync")
    import platformdirs

    return getattr(platformdirs, f"user_{kind}_dir")("iexsync")


def _home() -> str:
    home = os.environ.get("HOME", "")
    if os.path.isabs(home):
        return home
    import pwd  # a relative $HOME counts as none, as platformdirs has it

    return pwd.getpwuid(os.getuid()).pw_dir


def _entry_file(text: str) -> str:
    try:  # CPython's own BLAKE2: hashlib would load OpenSSL first, a few ms of a log search
        from _blake2 import blake2b
    except ImportError:
        from hashlib import blake2b

    from iexsync import __version__

    env = {name: os.environ.get(name) for name in sorted(set(ENV.findall(text)))}
    material = repr((CACHE_FORMAT, __version__, sys.version, text, env))  # str and dict reprs are exact
    return os.path.join(cache_folder(), blake2b(material.encode(), digest_size=32).hexdigest())


def remembered(text: str) -> dict[str, Any] | None:
    """The entry for this text, environment and code, if the config passed before:
    {"tree": the data before ${ENV}, its secrets None (or no data: None), "secrets": [[path,
    start, end], …] where each secret stands in `text`, "log": {"path"} before
    ${ENV}, "holds_secrets": bool}."""
    try:
        with open(_entry_file(text), "rb") as handle:
            entry = marshal.loads(handle.read())
        for file, mtime in entry["code"]:
            if os.stat(file).st_mtime_ns != mtime:
                return None
        tree, log, holds = entry["tree"], entry["log"], entry["holds_secrets"]
        if not isinstance(tree, (dict, type(None))) or not isinstance(log["path"], str) or not isinstance(holds, bool):
            return None
    except (OSError, ValueError, EOFError, KeyError, TypeError):
        return None
    return entry


def remember(text: str, entry: dict[str, Any]) -> None:
    try:
        data = marshal.dumps(entry)
        path = _entry_file(text)
        folder = os.path.dirname(path)
        os.makedirs(os.path.dirname(folder), mode=0o700, exist_ok=True)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        partial = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}")
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
    except (OSError, TypeError, ValueError):
        pass  # an unwritable cache only costs the next run a validation


def substitute(value: str) -> str:
    """${NAME} replaced by the variable's value (for a remembered config: they are set)."""
    return ENV.sub(lambda match: os.environ.get(match.group(1), ""), value)


def remembered_log(config: str | Path) -> tuple[str, bool] | None:
    """The log's path and whether the file holds secrets, if the config at `config` passed
    before (so nothing else of it needs reading); None otherwise, or if it cannot be read."""
    try:
        with open(config, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return None
    entry = remembered(text)
    if entry is None:
        return None
    folder = os.path.dirname(config)
    return os.path.realpath(os.path.join(folder, substitute(entry["log"]["path"]))), entry["holds_secrets"]


def permission_warning(config: str | Path, holds_secrets: bool) -> str | None:
    """A warning if a config that holds secrets can be read by other users."""
    import stat

    if not holds_secrets:
        return None
    try:
        mode = os.stat(config).st_mode
    except OSError:
        return None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return f"warning: {config} holds secrets and can be read by other users; run: chmod 600 {config}"
    return None
