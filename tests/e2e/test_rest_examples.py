"""The REST signing examples of docs/signing.md run as written, in Python and in JavaScript (jose)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from shared.mesh import ROOT, Mesh
from tests.conftest import People
from tests.e2e.citizens import PASSWORD
from tests.e2e.test_eservices import CLINIC_1, citizens

EXAMPLES = ROOT / "examples" / "rest"


def key_files(citizen, folder: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    key, chain = folder / "key.pem", folder / "chain.pem"
    key.write_bytes(
        citizen.key.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in citizen.key.chain))
    return key, chain


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_the_signing_example_files_a_request_in_two_steps_and_in_one(
    mesh: Mesh, citizen_factory, people: People, tmp_path: Path, language: str
) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    key, chain = key_files(citizen, tmp_path)
    args = [mesh.url("portal"), citizen.iin, PASSWORD, str(key), str(chain), CLINIC_1]
    if language == "python":
        names = ["--portal", "--iin", "--password", "--key", "--chain", "--clinic"]
        command = [sys.executable, str(EXAMPLES / "sign_and_submit.py")]
        command += [part for pair in zip(names, args, strict=True) for part in pair]
    else:
        assert (EXAMPLES / "node_modules" / "jose").is_dir(), "run `make test` (it installs the example's jose)"
        command = ["node", str(EXAMPLES / "sign_and_submit.mjs"), *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)  # noqa: ASYNC221
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["two steps: completed", "one step: completed"], done.stdout
    requests = await citizen.call("GET", "/api/v1/requests")
    assert [r["status"] for r in requests] == ["completed", "completed"]
