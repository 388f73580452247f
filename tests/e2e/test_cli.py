"""The citizen command-line client, run as a user would run it (the README's demo), against the mesh."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from services.signature.ca import DevCA
from tests.conftest import People
from tools.launcher import ROOT, Mesh

CLINIC_1 = "980440012347"


def run_cli(
    module: str, env: dict[str, str], *args: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command-line client as a user would, in its own process."""
    env = {**os.environ, **env, **({"EMHANA_PASSWORD": password} if password else {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def emhana(mesh: Mesh, session: str, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        "EMHANA_SESSION": session,
        "EMHANA_PORTAL_URL": mesh.url("portal"),
        "EMHANA_SIGNATURE_URL": mesh.url("signature"),
    }
    return run_cli("clients.citizen", env, *args, password=password)


@pytest.mark.usefixtures("mesh")
def test_cli_does_the_whole_flow(mesh: Mesh, ca: DevCA, people: People, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (person,) = people.take("attached_1")
    ca.save(ca.issue_person(person.iin, person.surname.upper(), person.name.upper()), f"cli-{person.iin}")
    key = str(mesh.pki_dir / "issued" / f"cli-{person.iin}.p12")
    session = str(tmp_path / "session.json")

    registered = emhana(mesh, session, "register", "--key", key, password="Tulpar-Zhol-2026")
    assert registered.returncode == 0, registered.stderr
    assert f"registered: {person.surname}" in registered.stdout and person.iin in registered.stdout
    assert "access_token" not in registered.stdout  # kept in the session
    assert emhana(mesh, session, "me").returncode == 0  # registration logged in
    wrong = emhana(mesh, session, "login", "--iin", person.iin, password="Not-the-password-1")
    assert wrong.returncode == 1 and "AUTH_FAILED" in wrong.stderr
    assert emhana(mesh, session, "login", "--iin", person.iin, password="Tulpar-Zhol-2026").returncode == 0
    assert "home_call" in emhana(mesh, session, "services").stdout
    assert CLINIC_1 in emhana(mesh, session, "clinics").stdout

    submitted = emhana(
        mesh,
        session,
        "--json",
        "submit",
        "home_call",
        "--key",
        key,
        "--field",
        "address=г. Астана, улица Сейфуллина, 12",
        "--field",
        "phone=+77017654321",
        "--field",
        "complaints=головная боль",
        "--field",
        "temperature=38.5",
    )
    assert submitted.returncode == 0, submitted.stderr
    request_id = json.loads(submitted.stdout)["id"]
    status = json.loads(emhana(mesh, session, "status", request_id, "--wait", "30", "--json").stdout)
    assert status["status"] == "completed", status
    listed = emhana(mesh, session, "requests").stdout  # a table, for people
    row = next(line for line in listed.splitlines() if request_id in line)
    assert "home_call" in row and "completed" in row and status["registration_number"] in row
    assert "Поликлиника" in row  # the clinic by its name, not its БИН
    assert re.search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", row)  # dd.mm.yyyy HH:MM, Astana time
    as_json = json.loads(emhana(mesh, session, "requests", "--json").stdout)
    assert [r["correlation_id"] for r in as_json if r["id"] == request_id] == [status["correlation_id"]]
    result = emhana(mesh, session, "result", request_id, "--verify")
    assert result.returncode == 0 and "signature: VALID" in result.stdout

    assert emhana(mesh, session, "logout").returncode == 0
    after = emhana(mesh, session, "requests")
    assert after.returncode == 1 and "UNAUTHORIZED" in after.stderr


def emhana_staff(mesh: Mesh, session: str, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"EMHANA_STAFF_SESSION": session, "EMHANA_ARM_URL": mesh.url("arm")}
    return run_cli("clients.staff", env, *args, password=password)


@pytest.mark.usefixtures("mesh")
def test_staff_cli_files_a_home_call_and_records_the_visit(mesh: Mesh, people: People, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.staff import STAFF_PASSWORD, member

    registrar = member(CLINIC_1)
    (person,) = people.take("attached_1")
    key = str(mesh.pki_dir / "issued" / f"staff-{registrar.iin}.p12")  # issued by `make run`'s bootstrap
    session = str(tmp_path / "staff-session.json")
    wrong = emhana_staff(mesh, session, "login", "--iin", registrar.iin, password="Not-the-password-1")
    assert wrong.returncode == 1 and "AUTH_FAILED" in wrong.stderr
    logged_in = emhana_staff(mesh, session, "login", "--iin", registrar.iin, password=STAFF_PASSWORD)
    assert logged_in.returncode == 0 and CLINIC_1 in logged_in.stdout
    looked_up = emhana_staff(mesh, session, "person", person.iin, "--reason", "приём в регистратуре")
    assert person.iin in looked_up.stdout and "address:" in looked_up.stdout
    filed = emhana_staff(
        mesh,
        session,
        "--json",
        "file",
        "home_call",
        "--iin",
        person.iin,
        "--key",
        key,
        "--field",
        "address=г. Астана, улица Сейфуллина, 12",
        "--field",
        "phone=+77017654321",
        "--field",
        "complaints=головная боль",
    )
    assert filed.returncode == 0, filed.stderr
    number = json.loads(filed.stdout)["registration_number"]
    journal = json.loads(emhana_staff(mesh, session, "journal", "home-calls", "--json").stdout)
    assert number in {item["number"] for item in journal["items"]}
    table = emhana_staff(mesh, session, "journal", "home-calls").stdout.splitlines()
    assert table[0].split()[:3] == ["number", "called", "patient"] and any(number in line for line in table[1:])
    marked = emhana_staff(mesh, session, "mark", "home-call", "last", "visited")  # the call just filed
    assert marked.returncode == 0 and marked.stdout.strip() == f"№ {number}: visited"
    assert emhana_staff(mesh, session, "logout").returncode == 0
    after = emhana_staff(mesh, session, "journal", "home-calls")
    assert after.returncode == 1 and "UNAUTHORIZED" in after.stderr
