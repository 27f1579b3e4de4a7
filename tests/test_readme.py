"""The README stays true: its two command lines, and a row for every config key."""

from __future__ import annotations

import json
import re

from tests.conftest import REPO, run_process


def readme() -> str:
    return (REPO / "README.md").read_text()


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second() -> None:
    block = re.search(r"```sh\n(.*?)```", readme(), re.S).group(1).strip().splitlines()
    assert len(block) == 2
    assert block[0].endswith("iexsync sync --config config.example.yaml")
    assert block[1].endswith("pytest")
    assert "grep -m1 -E \"^python3 -m venv .* pytest\" README.md" in (REPO / ".ci" / "run").read_text()


def test_every_config_key_is_documented() -> None:
    schema = json.loads(run_process("config", "schema").stdout)
    text = readme()
    missing = []

    def walk(node: dict, path: str) -> None:
        for key, value in node.get("properties", {}).items():
            if key in ("platform", "system"):
                continue
            full = f"{path}{key}"
            if value.get("type") == "object" and "properties" in value:
                walk(value, f"{full}.")  # documented through its keys
            elif f"`{full}`" not in text:
                missing.append(full)
        for branch in node.get("allOf", []):
            walk(branch["then"], path)

    for top in ("transfer", "log", "shop", "accounting"):
        walk(schema["properties"][top], f"{top}.")
    assert missing == []
