"""The command-line clients end with a message, never a traceback: missing or wrong key files, a portal
that does not answer, a closed pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clients.common import CliError, load_key
from services.signature.ca import DevCA
from tools.launcher import ROOT


def test_key_file_problems_are_explained(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="cannot read the key file"):
        load_key(tmp_path / "missing.p12", "emhana", None)
    ca = DevCA(tmp_path / "pki")
    p12 = ca.save(ca.issue_person("850315300019", "А", "Б"), "someone").with_suffix(".p12")
    assert load_key(p12, "emhana", None)[1]  # the right password opens it
    with pytest.raises(CliError, match="wrong key password"):
        load_key(p12, "not-the-password", None)
    (tmp_path / "junk.key.pem").write_text("not a key")
    with pytest.raises(CliError, match="not a key file"):
        load_key(tmp_path / "junk.key.pem", None, None)


@pytest.mark.parametrize("module", ["clients.citizen", "clients.staff"])
def test_an_unreachable_service_is_a_message_not_a_traceback(module: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "EMHANA_SESSION": str(tmp_path / "s.json"),
        "EMHANA_STAFF_SESSION": str(tmp_path / "st.json"),
        "EMHANA_PORTAL_URL": "http://127.0.0.1:9",  # nothing listens on the discard port
        "EMHANA_ARM_URL": "http://127.0.0.1:9",
    }
    command = "requests" if module.endswith("portal.cli") else "me"
    done = subprocess.run(
        [sys.executable, "-m", module, command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "cannot reach" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    env = {**os.environ, "EMHANA_SESSION": str(tmp_path / "s.json")}
    reader = subprocess.Popen(
        [sys.executable, "-m", "clients.citizen", "--help"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None
    reader.stdout.close()  # like `| head -0`
    _, errors = reader.communicate(timeout=60)
    assert b"Traceback" not in errors


def test_every_command_has_help_and_times_are_shown_in_astana_time(capsys) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from clients.common import show

    for program in ("clients.citizen", "clients.staff"):
        listing = subprocess.run(
            [sys.executable, "-m", program, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60
        ).stdout
        commands = listing.split("{", 1)[1].split("}", 1)[0].split(",")
        described = {
            line.split()[0] for line in listing.splitlines() if line.startswith("    ") and len(line.split()) > 1
        }
        assert set(commands) <= described, (program, set(commands) - described)
    show({"at": "2026-11-26T05:30:00Z", "nested": [{"deadline": "2026-11-26T06:00:00+00:00"}], "iin": "850315300019"})
    printed = capsys.readouterr().out
    assert '"2026-11-26T10:30:00+05:00"' in printed and '"2026-11-26T11:00:00+05:00"' in printed
    assert '"850315300019"' in printed  # not a time: untouched


def test_tables_for_people_json_for_scripts_and_exit_statuses(capsys) -> None:  # type: ignore[no-untyped-def]
    from clients.citizen import outcome_exit
    from clients.common import Output, when

    rows = [{"n": "2347-2026-000001", "at": "2026-11-26T05:30:00Z"}, {"n": "7", "at": None}]
    columns = [("number", lambda r: r["n"]), ("time", lambda r: when(r["at"]))]
    Output(False).table(rows, rows, columns)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["number            time", "2347-2026-000001  26.11.2026 10:30", "7                 —"]
    Output(True).table(rows, rows, columns)
    assert '"2026-11-26T10:30:00+05:00"' in capsys.readouterr().out  # --json: the API's data, Astana ISO
    statuses = {s: outcome_exit({"status": s}, waited=True) for s in ("completed", "refused", "failed", "submitted")}
    assert statuses == {"completed": 0, "refused": 4, "failed": 5, "submitted": 6}
    assert outcome_exit({"status": "submitted"}, waited=False) == 0  # not asked to wait: sent is done
