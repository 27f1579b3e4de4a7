"""4b. Broken configs: 100 variants of a valid config (the file shop into the fake e-conomic),
each with one to three problems — wrong types, bad values, unknown and missing keys, an
unset ${ENV}, bad templates, invalid YAML. The real `iexsync sync` must exit 78 naming the
path of every problem, and write nothing: no log, no lock file, no ledger, no request to
the accounting system.

Fast: 12 of the variants. Full (`-m slow`): all 100.
"""

from __future__ import annotations

import copy
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from tests.reliability.support import assert_no_crash, economic, run_iexsync, write_config


@dataclass(frozen=True)
class Problem:
    name: str
    change: Callable[[dict[str, Any]], None] | None  # on the parsed config
    says: tuple[str, ...]  # what the message must name (the path, mostly)
    group: str = ""  # "": combines freely; "shop"/"accounting": the section's connector is gone;
    # "template": reported only when the schema is satisfied; "file": the whole file
    text: Callable[[str], str] | None = None  # on the file's text instead
    where: str = ""  # the key it touches, if `says` does not start with it

    @property
    def key(self) -> str:
        return self.where or self.says[0].split("[")[0]


def put(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(tree: dict[str, Any]) -> None:
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = copy.deepcopy(value)
    return change


def drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(tree: dict[str, Any]) -> None:
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[part]
        node.pop(parts[-1])
    return change


PROBLEMS = [
    Problem("allowed_states a string", put("transfer.allowed_states", "completed"), ("transfer.allowed_states",)),
    Problem("allowed_states empty", put("transfer.allowed_states", []), ("transfer.allowed_states",)),
    Problem("allowed_states a number", put("transfer.allowed_states", [7]), ("transfer.allowed_states[0]",)),
    Problem("document unknown", put("transfer.document", "receipt"), ("transfer.document",)),
    Problem("book a string", put("transfer.book", "yes"), ("transfer.book",)),
    Problem("per_state document", put("transfer.per_state", {"completed": {"document": "x"}}),
            ("transfer.per_state.completed.document",)),
    Problem("refunds unknown", put("transfer.refunds", "refund"), ("transfer.refunds",)),
    Problem("start_date month 13", put("transfer.start_date", "2026-13-01"), ("transfer.start_date",)),
    Problem("update_drafts a number", put("transfer.update_drafts", 1), ("transfer.update_drafts",)),
    Problem("rounding_tolerance negative", put("transfer.rounding_tolerance", -1), ("transfer.rounding_tolerance",)),
    Problem("overlap_minutes huge", put("transfer.overlap_minutes", 99999), ("transfer.overlap_minutes",)),
    Problem("reference_prefix spaces", put("transfer.reference_prefix", "has space"), ("transfer.reference_prefix",)),
    Problem("transfer typo key", put("transfer.alowed_states", ["x"]), ("transfer.alowed_states",)),
    Problem("allowed_states missing", drop("transfer.allowed_states"), ("allowed_states", "missing"),
            where="transfer.allowed_states"),
    Problem("app_secret_token missing", drop("accounting.app_secret_token"), ("app_secret_token", "missing"),
            where="accounting.app_secret_token"),
    Problem("layout text", put("accounting.layout", "nineteen"), ("accounting.layout",)),
    Problem("vat zone 0", put("accounting.vat_zones", {"domestic": 0}), ("accounting.vat_zones.domestic",)),
    Problem("match_on unknown", put("accounting.customers", {"match_on": "name"}), ("accounting.customers.match_on",)),
    Problem("on_mismatch unknown", put("accounting.totals", {"on_mismatch": "panic"}), ("accounting.totals.on_mismatch",)),
    Problem("url a number", put("accounting.url", 5), ("accounting.url",)),
    Problem("system unknown", put("accounting.system", "economics"), ("accounting.system", "economic"), "accounting"),
    Problem("platform unknown", put("shop.platform", "shopify"), ("shop.platform",), "shop"),
    Problem("shop path a number", put("shop.path", 5), ("shop.path",)),
    Problem("shop path missing", drop("shop.path"), ("'path' is missing",), where="shop.path"),
    Problem("heading template", put("mappings.heading", "{{ order.number "), ("mappings.heading",), "template"),
    Problem("filter without skip_if", put("filters", [{"name": "x"}]), ("filters[0]", "skip_if"), where="filters"),
    Problem("filter expression", put("filters", [{"name": "x", "skip_if": "order.total >"}]), ("filters[0].skip_if",),
            "template"),
    Problem("log path a number", put("log.path", 5), ("log.path",)),
    Problem("lock_path a list", put("log.lock_path", []), ("log.lock_path",)),
    Problem("top-level typo", put("transfers", {"allowed_states": ["x"]}), ("transfers",)),
    Problem("unset ${ENV}", put("accounting.agreement_grant_token", "${IEXSYNC_TEST_NEVER_SET}"),
            ("accounting.agreement_grant_token", "IEXSYNC_TEST_NEVER_SET")),
    Problem("rate_limit zero", put("accounting.rate_limit", 0), ("accounting.rate_limit",)),
    Problem("home_country lower case", put("accounting.home_country", "dk"), ("accounting.home_country",)),
    Problem("special sku a number", put("accounting.products", {"skus": {"shipping": 5}}),
            ("accounting.products.skus.shipping",)),
    Problem("payment terms text", put("accounting.payments", {"methods": {"stripe": {"payment_terms": "x"}}}),
            ("accounting.payments.methods.stripe.payment_terms",)),
    Problem("timeout negative", put("accounting.timeout", -1), ("accounting.timeout",)),
    Problem("mappings a string", put("mappings", "heading"), ("mappings",)),
    Problem("filters a mapping", put("filters", {"name": "x"}), ("filters",)),
    Problem("invalid YAML", None, ("not valid YAML", "line"), "file", text=lambda t: t + "\ntransfer: [\n"),
    Problem("a list, not a mapping", None, ("must hold a mapping",), "file", text=lambda t: "- shop\n- accounting\n"),
    Problem("empty file", None, ("must hold a mapping",), "file", text=lambda t: ""),
    Problem("tab indentation", None, ("not valid YAML",), "file", text=lambda t: t.replace("  system:", "\tsystem:", 1)),
]


def compatible(chosen: list[Problem], problem: Problem) -> bool:
    """Whether `problem` can be reported beside the others: not the same key (or one inside
    the other), not a section whose connector another problem removed, no whole-file or
    template problem with anything else."""
    if not chosen:
        return True
    if problem.group in ("file", "template") or any(p.group in ("file", "template") for p in chosen):
        return False
    for other in chosen:
        a, b = problem.key, other.key
        if a == b or a.startswith(b + ".") or b.startswith(a + "."):
            return False
        for group in ("shop", "accounting"):
            if (problem.group == group and b.startswith(group)) or (other.group == group and a.startswith(group)):
                return False
    return True


def variants(count: int = 100, seed: int = 78) -> list[list[Problem]]:
    """Every problem alone, then combinations of two and three that can all be reported at once."""
    rng = random.Random(seed)
    found = [[problem] for problem in PROBLEMS]
    while len(found) < count:
        size = rng.choice((2, 3))
        chosen: list[Problem] = []
        for problem in rng.sample(PROBLEMS, len(PROBLEMS)):
            if len(chosen) < size and compatible(chosen, problem):
                chosen.append(problem)
        if len(chosen) > 1 and sorted(p.name for p in chosen) not in [sorted(p.name for p in v) for v in found]:
            found.append(chosen)
    return found[:count]


def broken_workspace(folder: Path, url: str, problems: list[Problem]) -> Path:
    config = write_config(folder, url)
    (folder / "orders").mkdir(exist_ok=True)
    (folder / "orders" / "1001.json").write_text((Path(__file__).parents[2] / "examples/orders/1001.json").read_text())
    tree = yaml.safe_load(config.read_text())
    for problem in problems:
        if problem.change:
            problem.change(tree)
    text = yaml.safe_dump(tree, sort_keys=False)
    for problem in problems:
        if problem.text:
            text = problem.text(text)
    config.write_text(text)
    return config


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def check_variants(tmp_path: Path, tally, chosen: list[list[Problem]]) -> None:
    with economic() as (fake, server):
        def one(index: int, problems: list[Problem]) -> str | None:
            folder = tmp_path / f"variant{index:03d}"
            config = broken_workspace(folder, server.url, problems)
            before = snapshot(folder)
            result = run_iexsync(tally, "sync", "--config", config)
            names = " + ".join(p.name for p in problems)
            try:
                assert_no_crash(result, allowed=(78,))
            except AssertionError as exc:
                return f"{names}: {exc}"
            missing = [said for p in problems for said in p.says if said not in result.stderr]
            if missing:
                return f"{names}: the message does not name {missing}:\n{result.stderr}"
            if snapshot(folder) != before:
                return f"{names}: wrote {sorted(set(snapshot(folder)) - set(before))}"
            return None

        with ThreadPoolExecutor(2) as pool:
            failures = [f for f in pool.map(lambda item: one(*item), enumerate(chosen)) if f]
        requests = len(server.requests)
    tally.add(configs=len(chosen), problems=sum(len(v) for v in chosen))
    assert failures == [], "\n\n".join(failures[:10])
    assert requests == 0, "a broken config reached the accounting system"


def test_broken_configs_exit_78_and_write_nothing(tmp_path: Path, tally) -> None:
    everything = variants()
    chosen = random.Random(5).sample(everything, 12)
    check_variants(tmp_path, tally, chosen)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_100_broken_configs(tmp_path: Path, tally) -> None:
    check_variants(tmp_path, tally, variants())


def test_a_broken_template_is_reported_with_the_other_problems(tmp_path: Path, tally) -> None:
    both = [next(p for p in PROBLEMS if p.name == "heading template"),
            next(p for p in PROBLEMS if p.name == "document unknown")]
    check_variants(tmp_path, tally, [both])
