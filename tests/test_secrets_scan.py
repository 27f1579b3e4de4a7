"""The scan after every test (tests/conftest.py: no_secret_in_what_the_test_wrote) has teeth:
a test that leaves a known secret in a file it wrote fails; the same test leaving a
harmless file, or the secret only in its config file, passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, secrets_in

# The inner test builds the secret from parts, so this file's own text holds no secret.
INNER = '''
from tests.reliability.support import SECRETS

def test_writes(tmp_path):
    secret = SECRETS["ECONOMIC_APP_SECRET_TOKEN"] if {plant} else "nothing to hide"
    (tmp_path / "{name}").write_bytes(b"SQLite format 3\\0" + secret.encode() + b"\\0")
'''


@pytest.mark.parametrize(("plant", "name", "caught"), [
    (True, "iexsync.db-wal", True),
    (True, "books/ledger.beancount", True),
    (False, "iexsync.db-wal", False),
    (True, "config.yaml", False),  # the user's config is where secrets belong
], ids=["secret-in-the-log", "secret-in-a-ledger", "control-no-secret", "control-config-file"])
def test_a_secret_planted_in_a_file_fails_the_test_that_wrote_it(tmp_path: Path, plant: bool, name: str,
                                                                  caught: bool) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "conftest.py").write_text("from tests.conftest import no_secret_in_what_the_test_wrote  # noqa: F401\n")
    body = INNER.replace("{plant}", str(plant)).replace("{name}", name)
    if "/" in name:
        body = body.replace('    (tmp_path', f'    (tmp_path / "{name.split("/")[0]}").mkdir()\n    (tmp_path')
    (inner / "test_plant.py").write_text(body)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(inner),
         "--basetemp", str(tmp_path / "inner-tmp"), str(inner)],
        capture_output=True, text=True, cwd=inner, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == (1 if caught else 0), result.stdout[-3000:] + result.stderr[-2000:]
    if caught:
        assert "a test secret was written to a file" in result.stdout
        assert f"{name}: ECONOMIC_APP_SECRET_TOKEN" in result.stdout
    # the inner run's folders sit under this test's tmp_path: its own scan would see the
    # planted secret, which is expected here, so they go before this test ends
    import shutil

    shutil.rmtree(tmp_path / "inner-tmp")


def test_the_scan_finds_every_form_of_a_secret(tmp_path: Path) -> None:
    import base64

    from tests.reliability.support import SECRETS

    key, secret = SECRETS["WC_CONSUMER_KEY"], SECRETS["WC_CONSUMER_SECRET"]
    (tmp_path / "plain.log").write_text(f"x {secret} y")
    (tmp_path / "header.json").write_text("Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode())
    (tmp_path / "settings.yaml").write_text(secret)
    found = secrets_in(tmp_path)
    for path in tmp_path.iterdir():
        path.unlink()
    assert found == ["header.json: WC_CONSUMER_KEY Basic auth", "plain.log: WC_CONSUMER_SECRET"]
