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
