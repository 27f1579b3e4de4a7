"""-q / -v / -vv after any command name, as before it (`iexsync status -q` = `iexsync -q status`):
-q is errors only (the exit code says the rest), -vv every HTTP request and answer."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import EXAMPLES, run_process, write_config
from tests.fakes.woocommerce import FakeWooCommerce
from tests.test_woocommerce_sync import ENV, config as woo_config


def test_quiet_after_the_command_says_errors_only(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    for line in (["config", "check", "-q"], ["log", "prune", "--older-than", "400d", "-q"]):
        result = run_process(*line, "--config", demo)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), (line, result)
        assert cli(*line, "--config", demo).output == ""
    imported = run_process("import", "--from", "2025-01-01", "-q", "--config", demo)
    assert imported.returncode == 1 and imported.stdout == ""
    assert imported.stderr.splitlines() == ["failed: 1 (`iexsync log show ORDER` says why)", "    missing SKU: 1009"]
    in_error = run_process("status", "-q", "--config", demo)
    assert in_error.returncode == 1 and "order 1009: line 2" in in_error.stdout  # needs a human: said
    write_config(demo, {"transfer": {"require_sku": False}})
    cli("sync", "--config", demo)
    all_well = cli("status", "--config", demo, "-q")
    assert (all_well.exit_code, all_well.output) == (0, "")
    assert cli("status", "--config", demo).output.startswith("last run:")  # without -q: the report
    searched = run_process("log", "search", "1001", "-q", "--config", demo)
    assert searched.returncode == 0 and "Booked as" in searched.stdout  # data asked for is data


def test_minus_vv_after_the_command_shows_http(tmp_path: Path, server) -> None:
    fake = server.use(FakeWooCommerce(ENV["WOO_KEY"], ENV["WOO_SECRET"]))
    fake.load_orders_dir(EXAMPLES)
    path = woo_config(tmp_path, server)
    chatty = run_process("states", "--config", path, "-vv", env=ENV)
    assert chatty.returncode == 0, chatty.stderr
    assert "GET /wp-json/wc/v3/" in chatty.stderr and '" 200 ' in chatty.stderr
    plain = run_process("states", "--config", path, env=ENV)
    assert "GET /wp-json" not in plain.stderr and "completed" in plain.stdout
    for secret in ENV.values():
        assert secret not in chatty.stderr + chatty.stdout
