"""The REST signing examples of docs/signing.md run as written, in Python and in JavaScript (jose)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from services.signature.ca import DevCA
from tests.conftest import People
from tests.e2e.citizens import PASSWORD
from tests.e2e.test_eservices import CLINIC_1, citizens
from tools.launcher import ROOT, Mesh

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


@pytest.mark.parametrize("mesh", ["sqlite"], indirect=True)
async def test_the_nca_key_example_signs_as_jws_and_cms(mesh: Mesh, ca: DevCA, people: People) -> None:
    """docs/signing.md's example, run as printed: НУЦ's own GOST test key file signs a document both ways
    (judged here with НУЦ's test CA at a moment its material was current), and a GOST key file of the
    mesh's CA is judged valid both ways by the running signature service."""
    from shared.wire.documents import verify_document
    from tests.nca import GOST_PERSON_IIN, NCA, VECTORS, WHILE_GOST_CRL_CURRENT

    script = str(EXAMPLES / "sign_with_nca_key.py")
    document = '{"service":"home_call","note":"Ауырып тұрмын"}'
    nca_key = str(VECTORS / "keys" / "individual_valid_2015_gost.p12")
    command = [sys.executable, script, "--key", nca_key, "--password", "Aa123456", "--document", document]
    command += ["--signing-time", WHILE_GOST_CRL_CURRENT.isoformat()]  # when НУЦ's test key was current
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)  # noqa: ASYNC221
    assert done.returncode == 0, done.stderr
    signed = json.loads(done.stdout)
    store = NCA.store(WHILE_GOST_CRL_CURRENT)
    assert verify_document(signed["jws"], store).signer.iin == GOST_PERSON_IIN
    assert verify_document(signed["cms"], store, detached_payload=document.encode()).signer.iin == GOST_PERSON_IIN

    (person,) = people.take("attached_1")
    ca.save(ca.issue_person(person.iin, "ТЕСТ", "ГОСТ", key_type="gost"), f"example-gost-{person.iin}")
    own_key = str(ca.folder / "issued" / f"example-gost-{person.iin}.p12")
    command = [sys.executable, script, "--key", own_key, "--password", "emhana", "--document", document]
    command += ["--verify", mesh.url("signature")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)  # noqa: ASYNC221
    assert done.returncode == 0, done.stderr
    verdicts = json.loads(done.stdout)["verdicts"]
    for form in ("jws", "cms"):
        assert verdicts[form]["valid"] and verdicts[form]["signer"]["iin"] == person.iin, verdicts[form]
