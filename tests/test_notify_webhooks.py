"""Alerts for orders the webhook receiver's worker processes (not cron): a new error is mailed
once, through a real SMTP server, from the real WSGI server's worker; the order changed but
failing the same way, and cron's next run mail nothing more about it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import run_process
from tests.test_webhooks import KEY, SECRET, Running, fake, hooks, wait_for, write_config  # noqa: F401

aiosmtpd = pytest.importorskip("aiosmtpd", reason="aiosmtpd (a test dependency) is not installed")
from tests.test_notify import smtp  # noqa: E402,F401


def _with_mail(path: Path, port: int) -> None:
    tree = yaml.safe_load(path.read_text())
    tree["transfer"]["require_sku"] = True
    tree["notify"] = {"email": {"to": ["bookkeeper@example.com"], "from": "iexsync@example.com",
                                "host": "127.0.0.1", "port": port, "security": "none"}}
    path.write_text(yaml.safe_dump(tree, sort_keys=False))


def _without_sku(raw: dict) -> None:
    raw["line_items"][0]["sku"] = ""


def test_an_order_failing_in_a_webhook_run_is_mailed_once(fake, server, tmp_path: Path, smtp) -> None:  # noqa: F811
    box, port = smtp
    path = write_config(tmp_path, server)
    _with_mail(path, port)
    fake.modify(727, _without_sku)
    with Running(path) as receiver:
        topics = hooks(fake, receiver)
        assert fake.deliver(topics["order.updated"], 727) == 200
        wait_for(lambda: len(box.messages) >= 1, timeout=15)
        mail = box.messages[0]
        assert mail["Subject"] == "iexsync: 1 order(s) failed" and mail["To"] == "bookkeeper@example.com"
        assert "order 727: error: " in mail.get_payload() and "SKU" in mail.get_payload()
        for done, note in enumerate(("call first", "call before noon"), start=2):  # changed, failing the same way
            fake.modify(727, customer_note=note)
            assert fake.deliver(topics["order.updated"], 727) == 200
            wait_for(lambda: [row[0] for row in receiver.inbox()].count("done") == done, timeout=15)
        receiver.settled()
    assert [row[0] for row in receiver.inbox()] == ["done", "done", "done"]
    assert len(box.messages) == 1
    fake.modify(723, _without_sku)  # as the vendor's 723 is: our lookalike (a clone without ../shared) has SKUs
    cron = run_process("sync", "--config", path)  # cron's run after it: 727's error is not news again
    assert cron.returncode == 1, cron.stderr  # the shop's other orders without a SKU (723, and 729 where vendored)
    wait_for(lambda: len(box.messages) == 2, timeout=5)
    assert "order 723: error: " in box.messages[1].get_payload() and "order 727" not in box.messages[1].get_payload()
