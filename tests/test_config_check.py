"""`config check` catches what `sync` would refuse, and reads YAML mistakes plainly."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_process, write_config


def test_a_missing_shop_folder_and_unknown_template_fields(demo: Path, cli) -> None:
    write_config(demo, {"shop": {"path": "no/such/folder"},
                        "mappings": {"heading": "Order {{ order.numbr }}", "text_line1": "{{ order.number }}"},
                        "filters": [{"name": "test shop", "skip_if": "order.customer.mail.endswith('@example.com')"}]})
    result = run_process("config", "check", "--config", demo)
    assert result.returncode == 78, result.stderr
    assert "shop.path:" in result.stderr and "no/such/folder" in result.stderr
    assert "mappings.heading: 'Order {{ order.numbr }}' names a field an order does not have" in result.stderr
    assert "filters[0].skip_if:" in result.stderr and "mail" in result.stderr
    assert "text_line1" not in result.stderr  # a template that works is not named
    assert not (demo.parent / "iexsync.db").exists() and not (demo.parent / "iexsync.db.lock").exists()


def test_a_good_config_still_passes(demo: Path, cli) -> None:
    result = cli("config", "check", "--config", demo)
    assert result.exit_code == 0 and result.output.strip().endswith(": ok")


def test_a_missing_environment_variable_is_reported_once(demo: Path) -> None:
    write_config(demo, {"mappings": {"heading": "${IEXSYNC_TEST_UNSET}", "text_line1": "x ${IEXSYNC_TEST_UNSET}",
                                     "text_line2": "${IEXSYNC_TEST_UNSET_TOO}"}})
    result = run_process("config", "check", "--config", demo)
    assert result.returncode == 78
    assert result.stderr.count("the environment variable IEXSYNC_TEST_UNSET is not set") == 1
    assert result.stderr.count("the environment variable IEXSYNC_TEST_UNSET_TOO is not set") == 1


def test_a_tab_and_an_unclosed_quote_read_plainly(tmp_path: Path) -> None:
    tab = tmp_path / "tab.yaml"
    tab.write_text("shop:\n\tplatform: file\n")
    result = run_process("config", "check", "--config", tab)
    assert result.returncode == 78 and "use spaces, not tabs, for indentation" in result.stderr
    quote = tmp_path / "quote.yaml"
    quote.write_text('shop:\n  platform: file\n  path: "orders\naccounting:\n  system: beancount\n')
    result = run_process("config", "check", "--config", quote)
    assert result.returncode == 78 and "the quote opened on line 3, column 9 is never closed" in result.stderr


def test_a_secret_of_the_wrong_type_or_length_is_never_echoed(tmp_path: Path, server) -> None:
    from tests.test_woocommerce_sync import config as woo_config

    secret = 987654321987654321
    path = woo_config(tmp_path, server)
    text = path.read_text().replace("${WOO_SECRET}", str(secret)).replace("${WOO_KEY}", "'ck_short'")
    path.write_text(text)
    path.chmod(0o600)
    result = run_process("config", "check", "--config", path)
    assert result.returncode == 78
    assert str(secret) not in result.stderr + result.stdout and "ck_short" not in result.stderr + result.stdout


def test_config_init_writes_a_starter_that_checks(tmp_path: Path, cli) -> None:
    (tmp_path / "orders").mkdir()
    target = tmp_path / "iexsync.yaml"
    result = cli("config", "init", str(target), "--shop", "file", "--books", "beancount", "--shop-at", "orders",
                 "--start-date", "2026-01-01", "--no-interactive")
    assert result.exit_code == 0, result.output
    assert oct(target.stat().st_mode & 0o777) == "0o600" and "# " in target.read_text()
    assert cli("config", "check", "--config", target).exit_code == 0
    again = cli("config", "init", str(target), "--no-interactive")
    assert again.exit_code == 2 and "exists; pass --force" in again.output


def test_config_init_asks_for_the_essentials(tmp_path: Path, cli) -> None:
    from click.testing import CliRunner

    from iexsync.cli import cli as command

    target = tmp_path / "c.yaml"
    answers = "woocommerce\nhttps://shop.example.dk\neconomic\n"
    result = CliRunner().invoke(command, ["config", "init", str(target), "--interactive"], input=answers)
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert "url: https://shop.example.dk" in text and "${WC_CONSUMER_SECRET}" in text and "system: economic" in text
    check = run_process("config", "check", "--config", target)
    assert check.returncode == 78
    for name in ("WC_CONSUMER_KEY", "WC_CONSUMER_SECRET", "ECONOMIC_APP_SECRET_TOKEN", "ECONOMIC_AGREEMENT_GRANT_TOKEN"):
        assert check.stderr.count(f"the environment variable {name} is not set") == 1


def test_the_missing_config_error_points_to_config_init(tmp_path: Path) -> None:
    result = run_process("sync", "--config", tmp_path / "none.yaml")
    assert result.returncode == 78 and "iexsync config init" in result.stderr
