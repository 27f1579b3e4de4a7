"""`sync --dry-run` writes nothing anywhere (issue 12): against the e-conomic and Dinero fakes
the accounting system sees only reads (Dinero's token request is a login, not a write), and
the folder — config, orders, log, lock, anything — is byte for byte as it was: before the
first run (no log, no lock, no folder) and after one, with an order changed since."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, run_process
from tests.fakes.dinero import TOKEN_PATH
from tests.test_dinero_support import dinero, dinero_server, write_dinero_config  # noqa: F401
from tests.test_economic_support import economic_server, fake, write_economic_config  # noqa: F401

def _snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder`, with a digest of each file's bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def _writes(server, allowed_posts: tuple[str, ...] = ()) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.requests
            if r.method != "GET" and not (r.method == "POST" and r.path in allowed_posts)]


@pytest.mark.parametrize("system", ["economic", "dinero"])
def test_a_dry_run_writes_nothing_anywhere(system: str, tmp_path: Path, request, cli) -> None:
    if system == "economic":
        server = request.getfixturevalue("economic_server")
        request.getfixturevalue("fake")
        path, allowed = write_economic_config(tmp_path, server.url), ()
    else:
        server = request.getfixturevalue("dinero_server")
        request.getfixturevalue("dinero")
        path, allowed = write_dinero_config(tmp_path, server.url), (TOKEN_PATH,)
    shutil.copytree(EXAMPLES, tmp_path / "orders")
    before = _snapshot(tmp_path)
    dry = run_process("sync", "--config", path, "--dry-run")
    assert dry.returncode == 1, dry.stderr  # 1009 would fail
    planned = json.loads(dry.stdout)  # stdout is the JSON alone
    assert len(planned) >= 6 and "orders read" in dry.stderr
    assert _writes(server, allowed) == []
    assert _snapshot(tmp_path) == before  # no log, no lock, no folder, nothing

    assert cli("sync", "--config", path).exit_code == 1  # a real run: the log, the documents
    order = json.loads((tmp_path / "orders" / "1005.json").read_text())
    order["status"] = "completed"  # processing → completed: an invoice would now be made and booked
    order["date_modified_gmt"] = order["date_modified"] = "2026-03-06T09:00:00"
    (tmp_path / "orders" / "1005.json").write_text(json.dumps(order))
    with server._lock:
        server.requests.clear()
    before = _snapshot(tmp_path)
    again = cli("sync", "--config", path, "--dry-run")  # through click's runner too
    assert again.exit_code == 1, again.output  # 1009 still would fail
    planned = json.loads(again.stdout)
    assert planned and all(":1005:" in json.dumps(p["document"]) for p in planned), again.stdout  # 1005's alone
    assert ":1005:invoice" in json.dumps(planned)
    assert _writes(server, allowed) == []
    assert _snapshot(tmp_path) == before  # the log (and its cursor) untouched, no lock file left
    assert run_process("status", "--config", path).returncode == 1 and run_process("log", "search", "1009", "--config", path).returncode == 0
    assert _snapshot(tmp_path) == before  # reading the log leaves no -wal/-shm behind either
