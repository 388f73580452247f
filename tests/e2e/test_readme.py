"""The README's demo, run as written: its two shell blocks (the citizen CLI, then the staff CLI) are read
from the README and run top to bottom by bash against a fresh mesh, from a folder laid out as the
repository is (``.venv``, ``var/pki/issued``) — so the README cannot drift from what works."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import mesh_start_time, running_mesh
from tools.launcher import ROOT, Mesh

SECTIONS = ("## Demo: the three e-services with the citizen CLI", "## The clinic side: diagram 2 with the staff CLI")


def readme_block(heading: str) -> str:
    """The first ```sh block after ``heading`` in the README."""
    text = (ROOT / "README.md").read_text()
    section = text.split(heading, 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert found, f"no shell block under {heading}"
    return found.group(1)


@pytest.fixture(scope="module")
def fresh_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    with running_mesh("sqlite", tmp_path_factory.mktemp("readme") / "var", mesh_start_time()) as instance:
        yield instance


def run_block(block: str, mesh: Mesh, folder: Path) -> subprocess.CompletedProcess[str]:
    """One README block in a bash of its own (a second terminal), stopping at the first command that fails."""
    script = "set -euo pipefail\nshopt -s expand_aliases\n" + block
    env = {
        **os.environ,
        "HOME": str(folder),  # the CLIs keep their sessions under ~/.emhana
        "EMHANA_PORTAL_URL": mesh.url("portal"),
        "EMHANA_SIGNATURE_URL": mesh.url("signature"),
        "EMHANA_ARM_URL": mesh.url("arm"),
    }
    return subprocess.run(
        ["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_the_readme_demo_runs_as_written(fresh_mesh: Mesh, tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "var").symlink_to(fresh_mesh.var_dir)
    citizen = run_block(readme_block(SECTIONS[0]), fresh_mesh, tmp_path)
    assert citizen.returncode == 0, citizen.stdout[-3000:] + citizen.stderr[-3000:]
    out = citizen.stdout
    assert out.count("signature: VALID") == 3  # the home call, the appointment, the attachment
    assert re.search(r"appointment\s.*\scancelled\s", out), out  # the booking the citizen cancelled
    assert "refused (exit 4): CHANGE_LIMIT" in out and "CHANGE_LIMIT —" in out  # refused, and why
    assert "thank you: answers recorded" in out

    staff = run_block(readme_block(SECTIONS[1]), fresh_mesh, tmp_path)
    assert staff.returncode == 0, staff.stdout[-3000:] + staff.stderr[-3000:]
    assert re.search(r"home_call  № \S+  completed", staff.stdout), staff.stdout
    assert re.search(r"№ \S+: visited", staff.stdout), staff.stdout
    assert re.search(r"attachment  № \S+  completed", staff.stdout), staff.stdout
    slip = tmp_path / "talon.pdf"
    assert slip.read_bytes().startswith(b"%PDF")
