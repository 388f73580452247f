"""docs/regulation.md names, for each step of Приложение 1's tables, the test that shows it: every test it
names must exist (a renamed or deleted test would leave the trace pointing at nothing), and every step of
the one table of limits must appear in it with its limit."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from shared.rules.deadlines import ARM_STEPS, PORTAL_STEPS

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_the_trace_names_exists() -> None:
    text = (ROOT / "docs" / "regulation.md").read_text()
    named = set(re.findall(r"`(test_[a-z0-9_]+)::(test_[a-z0-9_]+)`", text))
    assert len(named) >= 5
    for module, test in named:
        found = [*ROOT.joinpath("tests").rglob(f"{module}.py")]
        assert found, f"no tests/**/{module}.py"
        names = {
            node.name
            for path in found
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)
        }
        assert test in names, f"{module}::{test}"


def test_every_step_of_both_tables_is_in_the_trace_with_its_limit() -> None:
    text = (ROOT / "docs" / "regulation.md").read_text()
    table_1, table_2 = text.split("### Table 1", 1)[1].split("### Table 2", 1)
    for table, steps in ((table_1, PORTAL_STEPS), (table_2, ARM_STEPS)):
        rows = {int(m.group(1)): m.group(2) for m in re.finditer(r"^\| (\d) \|[^|]*\| ([^|]+) \|", table, re.MULTILINE)}
        assert sorted(rows) == list(range(1, 9))
        for number, (_, limit) in enumerate(steps.values(), start=1):
            seconds = limit.total_seconds()
            written = rows[number].strip()
            value = float(written.split()[0]) * (60 if "min" in written else 1)
            assert value == seconds, (number, written, seconds)
