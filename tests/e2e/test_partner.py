"""A partner e-government system connects through the gateway with its own key (docs/integration.md):
the development CA signs its certificate request, and its access right is a configuration entry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.gateway.access import DEFAULT_RIGHTS_FILE
from shared.messaging.bus import Bus
from shared.messaging.dispatch import MeshClient, MeshEndpoint
from shared.wire.certs import TrustStore
from shared.wire.clock import Clock
from shared.wire.contracts import PERSON_LOOKUP
from shared.wire.envelope import ServiceIdentity
from shared.wire.refusals import Refusal, RefusalError
from tools.launcher import ROOT, Mesh

PARTNER = "mz.eregistry"
PARTNER_BIN = "060540010015"  # the partner organisation's own БИН (docs/integration.md), not the mesh's


def sign_with_the_ca_command(mesh: Mesh, folder: Path) -> None:
    command = [
        *(sys.executable, "-m", "services.signature.ca", "--dir", str(mesh.pki_dir), "partner"),
        *(str(folder / "partner.csr"), "--address", PARTNER, "--bin", PARTNER_BIN),
        *("--organization", "МЗ РК", "--out", str(folder / "partner.pem")),
    ]
    signed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert signed.returncode == 0, signed.stderr


def restart_gateway(mesh: Mesh) -> None:
    mesh.stop_service("gateway")
    mesh.start_service("gateway")
    mesh.wait_ready(["gateway"], timeout=90)


async def test_a_partner_system_connects_with_its_own_certificate_once_its_right_is_configured(
    mesh: Mesh, bus: Bus, store: TrustStore, clock: Clock, some_iin: str, tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())  # the partner's key never leaves the partner
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, PARTNER)]))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "partner.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    sign_with_the_ca_command(mesh, tmp_path)  # what the operator runs (docs/integration.md)
    chain = x509.load_pem_x509_certificates((tmp_path / "partner.pem").read_bytes())
    assert chain[0].public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    partner = MeshClient(
        MeshEndpoint(bus, ServiceIdentity(PARTNER, key, chain), store, clock, mesh.namespace), timeout=20
    )
    with pytest.raises(RefusalError) as info:  # a valid certificate alone grants nothing
        await partner.request("gbd_fl", PERSON_LOOKUP, {"iin": some_iin})
    assert info.value.code is Refusal.ACCESS_DENIED

    table = json.loads(DEFAULT_RIGHTS_FILE.read_text())
    table["rights"].append({"sender": PARTNER, "recipient": "gbd_fl", "types": ["person.lookup"]})
    (tmp_path / "rights.json").write_text(json.dumps(table, ensure_ascii=False))
    mesh.env["EMHANA_GATEWAY_ACCESS_RIGHTS_FILE"] = str(tmp_path / "rights.json")
    restart_gateway(mesh)
    try:
        answer = await partner.request("gbd_fl", PERSON_LOOKUP, {"iin": some_iin})
        assert answer["person"]["iin"] == some_iin
        with pytest.raises(RefusalError) as info:  # and only what the entry says
            await partner.request("signature", "document.verify", {"jws": "a.b.c"})
        assert info.value.code is Refusal.ACCESS_DENIED
    finally:
        del mesh.env["EMHANA_GATEWAY_ACCESS_RIGHTS_FILE"]
        restart_gateway(mesh)
