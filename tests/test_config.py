"""The config: every problem at once, with its path and line; nothing written when broken."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from iexsync import config, configfiles
from iexsync.errors import ConfigError
from tests.conftest import REPO, run_process

GOOD = """\
shop:
  platform: file
  path: orders
accounting:
  system: beancount
  path: ledger.beancount
transfer:
  allowed_states: [completed]
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "orders").mkdir(exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    return caught.value.problems


def test_the_example_config_is_valid() -> None:
    settings = config.load(REPO / "config.example.yaml")
    assert settings.transfer.rule_for("completed").book is True
    assert settings.transfer.rule_for("processing").document == "order"
    assert settings.transfer.rule_for("pending") is None
    assert str(settings.transfer.start_date) == "2026-01-01"


def test_the_issue_shape_is_accepted_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "orders").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text(GOOD)
    settings = config.load(path)
    assert settings.transfer.document == "invoice" and settings.transfer.book is False
    assert settings.log_path == (tmp_path / "iexsync.db").resolve()
    assert settings.lock_path == Path(str(settings.log_path) + ".lock")


def test_every_problem_at_once_with_path_and_line(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
shop:
  platform: file
  path: orders
  colour: blue
accounting:
  system: beancount
transfer:
  allowed_states: [completed, 7]
  document: receipt
  book: "yes"
  start_date: 2026-13-01
  updte_drafts: true
""")
    text = "\n".join(found)
    assert "shop.colour (line 4): unknown key 'colour'" in text
    assert "accounting.path" in text or "'path' is missing" in text
    assert "transfer.allowed_states[1] (line 8): 7 should be text" in text
    assert "transfer.document (line 9): 'receipt' is not one of 'invoice', 'order'" in text
    assert "transfer.book (line 10): 'yes' should be true or false" in text
    assert "transfer.start_date (line 11): '2026-13-01' is not a date like 2026-01-01" in text
    assert "unknown key 'updte_drafts' (did you mean 'update_drafts'?)" in text
    assert len(found) >= 7


def test_unknown_platform_suggests_the_right_one(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("platform: file", "platform: woocomerce"))
    assert any("unknown platform 'woocomerce' (did you mean 'woocommerce'?)" in p for p in found)


def test_environment_variables(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("IEX_TEST_LEDGER", "env-ledger.beancount")
    (tmp_path / "orders").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text(GOOD.replace("ledger.beancount", "${IEX_TEST_LEDGER}"))
    assert config.load(path).accounting["path"] == "env-ledger.beancount"
    monkeypatch.delenv("IEX_TEST_LEDGER")
    found = problems(tmp_path, GOOD.replace("ledger.beancount", "${IEX_TEST_LEDGER}"))
    assert found == ["accounting.path (line 6): the environment variable IEX_TEST_LEDGER is not set"]


def test_broken_yaml_and_templates(tmp_path: Path) -> None:
    assert "not valid YAML (line 3" in problems(tmp_path, "shop:\n  platform: [file\n")[0]
    bad_template = GOOD + "mappings:\n  heading: 'Order {{ order.number '\nfilters:\n  - {name: z, skip_if: 'order.shop_total =='}\n"
    found = problems(tmp_path, bad_template)
    assert any(p.startswith("mappings.heading (line 10): the template does not parse") for p in found)
    assert any(p.startswith("filters[0].skip_if (line 12): the expression does not parse") for p in found)


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(tmp_path / "nope.yaml")
    assert "pass --config FILE or set IEXSYNC_CONFIG" in str(caught.value)


def test_broken_config_exits_78_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "orders").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text(GOOD.replace("allowed_states: [completed]", "allowed_states: []"))
    result = run_process("sync", "--config", path)
    assert result.returncode == 78
    assert "transfer.allowed_states (line 8)" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "orders"]


def test_published_schema_is_a_valid_json_schema_and_covers_connectors(tmp_path: Path) -> None:
    result = run_process("config", "schema")
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    platforms = schema["properties"]["shop"]["properties"]["platform"]["enum"]
    assert "file" in platforms
    assert "beancount" in schema["properties"]["accounting"]["properties"]["system"]["enum"]


def test_config_readable_by_others_with_secrets_warns(tmp_path: Path, cli) -> None:
    (tmp_path / "orders").mkdir()
    path = tmp_path / "config.yaml"
    # notify.email.password: a field the schema declares a secret (writeOnly)
    path.write_text(GOOD + "notify:\n  email: {to: [a@example.dk], host: mail.example.dk, password: 'abc-secret-value'}\n")
    os.chmod(path, 0o644)
    assert "holds secrets and can be read by other users" in cli("config", "check", "--config", path).output
    os.chmod(path, 0o600)
    assert "holds secrets" not in cli("config", "check", "--config", path).output


def test_a_config_that_passed_is_remembered_until_it_or_iexsync_changes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "orders").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text(GOOD)
    config.load(path)
    remembered = list((tmp_path / "cache").rglob("valid-configs/*"))
    assert len(remembered) == 1
    config.load(path)  # the same file: nothing new remembered
    assert list((tmp_path / "cache").rglob("valid-configs/*")) == remembered
    path.write_text(GOOD.replace("allowed_states: [completed]", "allowed_states: []"))
    with pytest.raises(ConfigError):
        config.load(path)  # a changed file is validated again, and a broken one never remembered
    assert list((tmp_path / "cache").rglob("valid-configs/*")) == remembered


def test_the_published_schema_file_is_current() -> None:
    """config.schema.json (which config.example.yaml points editors at) is what the code says."""
    published = json.loads((REPO / "config.schema.json").read_text())
    assert published == json.loads(run_process("config", "schema").stdout), "run: iexsync config schema > config.schema.json"
    assert (REPO / "config.example.yaml").read_text().startswith("# yaml-language-server: $schema=config.schema.json")


def _settings_without_cache(path: Path, monkeypatch, folder: Path) -> config.Settings:
    with monkeypatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        return config.load(path)


def test_a_remembered_config_is_read_without_yaml_or_the_connectors(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "orders").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text(GOOD + "mappings:\n  heading: 'Order {{ order.number }}'\n")
    first = config.load(path)
    code = f"""
import sys
from iexsync import config
settings = config.load({str(path)!r})
print(settings.fingerprint, settings.mappings["heading"])
print(" ".join(sorted(sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}).stdout.splitlines()
    assert out[0] == f"{first.fingerprint} Order {{{{ order.number }}}}"
    loaded = set(out[1].split())
    assert {"yaml", "jsonschema", "jinja2", "iexsync.shops.file", "iexsync.books.beancount"}.isdisjoint(loaded)
    assert config.load(path) == first == _settings_without_cache(path, monkeypatch, tmp_path / "empty")


# Secrets are the fields the schema declares writeOnly (here WooCommerce's keys and the
# mail password), written plainly, quoted, through ${ENV} and folded.
SECRETS = """\
shop:
  platform: woocommerce
  url: https://shop.example.dk
  consumer_key: plain-secret-1234
  consumer_secret: 'quoted-secret-5678'
  webhook_secret: ${IEX_TEST_PASSWORD}
accounting:
  system: beancount
  path: ledger.beancount
transfer:
  allowed_states: [completed]
mappings:
  heading: "{{ order.number }}"
"""


@pytest.mark.parametrize("extra, kept", [
    ("", True),
    ("notify:\n  email:\n    to: [a@example.dk]\n    host: mail.example.dk\n    password: >\n      folded-secret\n"
     "      9012\n", False),  # cannot be found in the text: data not kept
])
def test_secrets_are_never_written_to_the_cache(tmp_path: Path, monkeypatch, extra: str, kept: bool) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("IEX_TEST_PASSWORD", "env-secret-3456")
    (tmp_path / "orders").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text(SECRETS + extra)
    first = config.load(path)
    entries = list(cache.rglob("valid-configs/*"))
    assert len(entries) == 1 and oct(entries[0].stat().st_mode & 0o777) == "0o600"
    data = entries[0].read_bytes()
    entry = marshal.loads(data)
    # Everything but the code files' stamps (paths and mtimes in ns, whose digits may hold "9012").
    kept_text = json.dumps({key: value for key, value in entry.items() if key != "code"}).encode()
    assert len(entry["code"]) > 1 and all(isinstance(stamp, int) for _, stamp in entry["code"])
    for secret in (b"plain-secret-1234", b"quoted-secret-5678", b"env-secret-3456", b"folded-secret", b"9012"):
        assert secret not in kept_text
    assert entry["holds_secrets"] is True and (entry["tree"] is not None) == kept
    if kept:
        assert entry["tree"]["shop"]["consumer_key"] is None
        assert entry["tree"]["shop"]["webhook_secret"] == "${IEX_TEST_PASSWORD}"
    again = config.load(path)  # from the cache: the secrets from the file and the environment again
    assert again == first == _settings_without_cache(path, monkeypatch, tmp_path / "empty")
    assert again.shop["consumer_key"] == "plain-secret-1234" and again.shop["webhook_secret"] == "env-secret-3456"


def test_a_remembered_config_follows_the_environment_and_the_code(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "orders").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text(GOOD.replace("ledger.beancount", "${IEX_TEST_LEDGER}"))
    validated = []
    real = config._validate_all
    monkeypatch.setattr(config, "_validate_all", lambda *args: validated.append(1) or real(*args))
    monkeypatch.setenv("IEX_TEST_LEDGER", "a.beancount")
    assert config.load(path).accounting["path"] == "a.beancount"
    assert config.load(path).accounting["path"] == "a.beancount" and len(validated) == 1
    monkeypatch.setenv("IEX_TEST_LEDGER", "b.beancount")
    assert config.load(path).accounting["path"] == "b.beancount" and len(validated) == 2
    monkeypatch.delenv("IEX_TEST_LEDGER")
    with pytest.raises(ConfigError, match="IEX_TEST_LEDGER is not set"):
        config.load(path)
    monkeypatch.setenv("IEX_TEST_LEDGER", "a.beancount")
    entry = Path(configfiles._entry_file(path.read_text()))  # the one for a.beancount
    stamps = marshal.loads(entry.read_bytes())
    stamps["code"][0][1] += 1  # as if that file of iexsync had changed
    entry.write_bytes(marshal.dumps(stamps))
    validated.clear()
    config.load(path)
    assert len(validated) == 1


@pytest.mark.parametrize("xdg", [None, "/somewhere/else", "relative/path", ""])
def test_the_folders_are_platformdirs_own(monkeypatch, xdg: str | None) -> None:
    """configfiles finds them without importing platformdirs; the answers must not differ."""
    import platformdirs

    for kind in ("CONFIG", "CACHE"):
        if xdg is None:
            monkeypatch.delenv(f"XDG_{kind}_HOME", raising=False)
        else:
            monkeypatch.setenv(f"XDG_{kind}_HOME", xdg)
    monkeypatch.delenv("IEXSYNC_CONFIG", raising=False)
    assert configfiles.default_config_path() == str(Path(platformdirs.user_config_dir("iexsync")) / "config.yaml")
    assert configfiles.cache_folder() == str(Path(platformdirs.user_cache_dir("iexsync")) / "valid-configs")
