"""Development certification authority: root → intermediate "test НУЦ", НУЦ-like end-entity profiles.

Writes everything under one folder (git-ignored ``var/pki`` by default)::

    root.pem, root.key.pem         self-signed root (the trust anchor, also in trust.pem)
    ca.pem, ca.key.pem             intermediate that issues end-entity certificates
    trust.pem                      the PEM bundle that services configure as trust anchors
    crl/root.crl, crl/ca.crl       current CRLs (DER)
    issued/<name>.pem              leaf + intermediate, PEM
    issued/<name>.key.pem          private key, PEM (unencrypted: development only)
    issued/<name>.p12              PKCS#12 with the chain (password: see DEFAULT_P12_PASSWORD)
    state.json                     issued serials and revoked ones

A deployment hands these out with ``deploy`` (:func:`export`): the public part (``trust.pem``, ``crl/``) to
every service, each service's own certificate and key to that service alone; the CA's keys never leave
this folder.

Run ``python -m services.signature.ca --help`` for the command line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.signature import gost_issuer
from services.signature.gost_issuer import GostKey
from shared.demo import DEFAULT_POPULATION_SEED, DEFAULT_POPULATION_SIZE
from shared.wire import keyfile
from shared.wire.certs import KeyPurpose, Role
from shared.wire.clock import Clock
from shared.wire.jws import GostSigner, SigningKey
from shared.wire.topology import SERVICES

DEFAULT_P12_PASSWORD = b"emhana"
_ROLE_OIDS = {role: x509.ObjectIdentifier(role.value) for role in Role}


@dataclass(frozen=True, slots=True)
class Issued:
    """A freshly issued certificate with its key and the chain to present (leaf first, no root)."""

    certificate: x509.Certificate
    key: SigningKey | GostSigner  # a GOST key as (private scalar, curve)
    chain: list[x509.Certificate]


def _new_key(kind: str) -> SigningKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: SigningKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class DevCA:
    """A two-level development CA living in ``folder``; created on first use."""

    def __init__(self, folder: Path, *, name: str = "Emhana", clock: Clock | None = None) -> None:
        self.folder = Path(folder)
        self.name = name
        self.clock = clock or Clock()
        if not (self.folder / "ca.pem").exists():
            self._create()
        self.root = x509.load_pem_x509_certificate((self.folder / "root.pem").read_bytes())
        self.root_key = self._load_key("root.key.pem")
        self.ca = x509.load_pem_x509_certificate((self.folder / "ca.pem").read_bytes())
        self.ca_key = self._load_key("ca.key.pem")

    def _now(self) -> dt.datetime:
        return self.clock.now().replace(microsecond=0)

    def _valid_from(self) -> dt.datetime:
        """Certificates are valid from the earlier of mesh time and real time: made during a run whose
        clocks were moved ahead (``make run CLOCK_START=…``), they still work in a plain run afterwards."""
        return min(self._now(), dt.datetime.now(dt.UTC).replace(microsecond=0))

    # -- construction -------------------------------------------------------------------------
    def _load_key(self, filename: str) -> SigningKey:
        key = serialization.load_pem_private_key((self.folder / filename).read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        return key

    def _create(self) -> None:
        (self.folder / "crl").mkdir(parents=True, exist_ok=True)
        (self.folder / "issued").mkdir(exist_ok=True)
        now = self._valid_from()
        root_key = _new_key("ec")
        root_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"{self.name} Root CA (development)"),
                x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
            ]
        )
        root = self._ca_cert(root_name, root_name, root_key.public_key(), root_key, now, 3650 * 2, None)
        ca_key = _new_key("ec")
        ca_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"{self.name} test НУЦ (development)"),
                x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
            ]
        )
        ca = self._ca_cert(ca_name, root_name, ca_key.public_key(), root_key, now, 3650, 0)
        self._write("root.pem", root.public_bytes(serialization.Encoding.PEM))
        self._write("root.key.pem", _pem_key(root_key), secret=True)
        self._write("ca.pem", ca.public_bytes(serialization.Encoding.PEM))
        self._write("ca.key.pem", _pem_key(ca_key), secret=True)
        self._trust(root)
        self._write("state.json", json.dumps({"issued": {}, "revoked": []}).encode())
        self.root, self.root_key, self.ca, self.ca_key = root, root_key, ca, ca_key
        self.gost_ca()  # made with the rest, so its CRL is published before any service starts
        self.publish_crls()

    def gost_ca(self) -> tuple[x509.Certificate, GostKey]:
        """The GOST 2015 issuing CA beside the EC one ("test НУЦ (GOST)", under the same root), made on first
        use: it issues GOST keys as НУЦ's GOST 2022 CA does, so the mesh meets them in every flow."""
        cert_path, key_path = self.folder / "gost-ca.pem", self.folder / "gost-ca.key"
        if not cert_path.exists():
            key = GostKey.generate()
            name = x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, f"{self.name} test НУЦ (GOST, development)"),
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
                ]
            )
            stand_in = _new_key("ec")
            built = self._ca_cert(
                name, self.root.subject, stand_in.public_key(), self.root_key, self._valid_from(), 3650, 0
            )
            cert = gost_issuer.certificate(built, self.root_key, key)
            self._write("gost-ca.key", format(key.private, "x").encode(), secret=True)
            self._write("gost-ca.pem", cert.public_bytes(serialization.Encoding.PEM))
            self.publish_crls()
        return (
            x509.load_pem_x509_certificate(cert_path.read_bytes()),
            GostKey(int(key_path.read_text().strip(), 16)),
        )

    def _trust(self, root: x509.Certificate) -> None:
        """Add the development root to the anchor bundle, keeping every anchor already there (an operator's
        real CA is never replaced); the bundle is written only when the root is missing from it."""
        path = self.folder / "trust.pem"
        pem = root.public_bytes(serialization.Encoding.PEM)
        existing = path.read_bytes() if path.exists() else b""
        if root in (x509.load_pem_x509_certificates(existing) if existing.strip() else []):
            return
        self._write("trust.pem", existing + (b"" if not existing or existing.endswith(b"\n") else b"\n") + pem)

    @staticmethod
    def _ca_cert(
        subject: x509.Name,
        issuer: x509.Name,
        public_key,
        signing_key: SigningKey,
        now: dt.datetime,
        days: int,
        path_length: int | None,
    ) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .sign(signing_key, hashes.SHA256())
        )

    def _write(self, relative: str, data: bytes, *, secret: bool = False) -> None:
        path = self.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        if secret:
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)  # atomic: a reader never sees half a CRL

    def _state(self) -> dict:
        return json.loads((self.folder / "state.json").read_text())

    def _save_state(self, state: dict) -> None:
        self._write("state.json", json.dumps(state, indent=1, sort_keys=True).encode())

    # -- issuing -----------------------------------------------------------------------------
    def issue(
        self,
        subject: list[x509.NameAttribute],
        *,
        purpose: KeyPurpose = KeyPurpose.SIGN,
        roles: tuple[Role, ...] = (Role.INDIVIDUAL,),
        key_type: str = "ec",
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        issuer: tuple[x509.Certificate, SigningKey] | None = None,
    ) -> Issued:
        """Issue an end-entity certificate with the НУЦ key-usage profile for ``purpose``; ``key_type`` "ec",
        "rsa" or "gost" (GOST 34.10-2015 512 from the GOST issuing CA)."""
        gost_key = GostKey.generate() if key_type == "gost" else None
        gost_issuer_key: GostKey | None = None
        if gost_key is not None and issuer is None:
            issuer_cert, gost_issuer_key = self.gost_ca()
            issuer_key: SigningKey = _new_key("ec")  # a stand-in: the certificate is signed again by GOST
        else:
            issuer_cert, issuer_key = issuer or (self.ca, self.ca_key)
        key = _new_key("ec" if gost_key is not None else key_type)
        now = self._now()
        sign = purpose is KeyPurpose.SIGN
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=sign,
            key_encipherment=not sign,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        ekus = [ExtendedKeyUsageOID.EMAIL_PROTECTION if sign else ExtendedKeyUsageOID.CLIENT_AUTH]
        ekus += [_ROLE_OIDS[r] for r in roles]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(subject))
            .issuer_name(issuer_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or self._valid_from() - dt.timedelta(minutes=5))
            .not_valid_after(not_after or now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                    issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
                ),
                critical=False,
            )
            .sign(issuer_key, hashes.SHA256())
        )
        if gost_key is not None:
            # mypy ignores the next line: the GOST issuer key is a (private, curve) pair, not a cryptography key
            cert = gost_issuer.certificate(cert, gost_issuer_key or issuer_key, gost_key)  # type: ignore[arg-type]
        state = self._state()
        state["issued"][format(cert.serial_number, "x")] = cert.subject.rfc4514_string()
        self._save_state(state)
        chain = [cert] if issuer_cert == self.root else [cert, issuer_cert]
        return Issued(certificate=cert, key=gost_key.signer if gost_key else key, chain=chain)

    def issue_person(self, iin: str, surname: str, name: str, patronymic: str | None = None, **options) -> Issued:
        """A citizen's certificate: CN="SURNAME NAME", SURNAME, serialNumber=IIN…, C=KZ, G=patronymic."""
        return self.issue(person_subject(iin, surname, name, patronymic), **options)

    def issue_employee(
        self,
        iin: str,
        surname: str,
        name: str,
        bin_: str,
        organization: str,
        role: Role | tuple[Role, ...] = Role.EMPLOYEE,
        **options,
    ) -> Issued:
        """A legal entity's certificate for a person acting for it (O = organisation, OU = BIN…), with the
        person's role(s) in it: employee, head, signing right."""
        subject = [
            *person_subject(iin, surname, name, None),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"BIN{bin_}"),
        ]
        roles = role if isinstance(role, tuple) else (role,)
        return self.issue(subject, roles=(Role.LEGAL_ENTITY, *roles), **options)

    def issue_service(self, address: str, bin_: str, organization: str = "Emhana", **options) -> Issued:
        """An information system's certificate: CN = its mesh address, role 1.2.398.3.3.4.1.2.6."""
        subject = organization_subject(address, organization, bin_)
        return self.issue(subject, roles=(Role.LEGAL_ENTITY, Role.INFORMATION_SYSTEM), **options)

    def sign_partner_csr(self, csr_pem: bytes, address: str, bin_: str, organization: str) -> x509.Certificate:
        """An information-system certificate for a partner's own key (the partner keeps the key): the
        request's signature proves possession; the subject is set here (CN = its mesh address, OU = БИН),
        not taken from the request."""
        csr = x509.load_pem_x509_csr(csr_pem)
        if not csr.is_signature_valid:
            raise ValueError("the certificate request's signature is not valid")
        now = self._valid_from()
        usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
        roles = [_ROLE_OIDS[r] for r in (Role.LEGAL_ENTITY, Role.INFORMATION_SYSTEM)]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(organization_subject(address, organization, bin_)))
            .issuer_name(self.ca.subject)
            # mypy ignores the next line: a CSR's key is one a certificate can hold (RSA or EC here)
            .public_key(csr.public_key())  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, *roles]), critical=False)
            .add_extension(
                # mypy ignores the next line: the CA's key is RSA
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        state = self._state()
        state["issued"][format(cert.serial_number, "x")] = cert.subject.rfc4514_string()
        self._save_state(state)
        return cert

    def issue_organization(self, bin_: str, name: str, common_name: str, **options) -> Issued:
        """A legal entity's signing certificate (a clinic's seal for its results): O, OU = BIN…, signing right."""
        subject = organization_subject(common_name, name, bin_)
        return self.issue(subject, roles=(Role.LEGAL_ENTITY, Role.SIGNING_RIGHT), **options)

    def save(self, issued: Issued, name: str, *, p12_password: bytes = DEFAULT_P12_PASSWORD) -> Path:
        """Write ``issued/<name>.pem`` (chain), ``.key.pem`` and ``.p12``; return the PEM path. A GOST key has
        no PEM form here: only its ``.p12``, written as НУЦ writes GOST key files."""
        pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in issued.chain)
        self._write(f"issued/{name}.pem", pem)
        if isinstance(issued.key, tuple):
            private, curve = issued.key
            p12 = keyfile.dump_gost(private, curve, issued.chain, p12_password.decode())
            self._write(f"issued/{name}.p12", p12, secret=True)
            return self.folder / "issued" / f"{name}.pem"
        self._write(f"issued/{name}.key.pem", _pem_key(issued.key), secret=True)
        p12 = pkcs12.serialize_key_and_certificates(
            name.encode(),
            issued.key,
            issued.certificate,
            issued.chain[1:],
            serialization.BestAvailableEncryption(p12_password),
        )
        self._write(f"issued/{name}.p12", p12, secret=True)
        return self.folder / "issued" / f"{name}.pem"

    # -- revocation -------------------------------------------------------------------------
    def revoke(self, serial: int | str, *, publish: bool = True) -> None:
        """Revoke by serial (int or hex string) and, by default, publish fresh CRLs at once."""
        serial_hex = serial if isinstance(serial, str) else format(serial, "x")
        state = self._state()
        if serial_hex not in state["revoked"]:
            state["revoked"].append(serial_hex)
        self._save_state(state)
        if publish:
            self.publish_crls()

    def publish_crls(
        self, *, next_update: dt.timedelta = dt.timedelta(days=1), last_update: dt.datetime | None = None
    ) -> None:
        """Write fresh CRLs for the root and the intermediate, valid ``next_update`` from ``last_update``.

        A ``last_update`` far enough in the past publishes a stale CRL (for testing fail-closed checks).
        """
        state = self._state()
        revoked = {int(s, 16) for s in state["revoked"]}
        number = state.get("crl_number", 0) + 1  # CRL numbers only grow: a receiver keeps the newest list
        state["crl_number"] = number
        self._save_state(state)
        this_update = last_update or self._now() - dt.timedelta(minutes=1)

        def crl_of(issuer: x509.Certificate) -> x509.CertificateRevocationListBuilder:
            builder = (
                x509.CertificateRevocationListBuilder()
                .issuer_name(issuer.subject)
                .last_update(this_update)
                .next_update(this_update + next_update)
                .add_extension(x509.CRLNumber(number), critical=False)
            )
            for serial in sorted(revoked):
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(this_update).build()
                )
            return builder

        for filename, cert, key in (("crl/root.crl", self.root, self.root_key), ("crl/ca.crl", self.ca, self.ca_key)):
            crl = crl_of(cert).sign(key, hashes.SHA256())
            self._write(filename, crl.public_bytes(serialization.Encoding.DER))
        if (self.folder / "gost-ca.pem").exists():
            gost_ca, gost_key = self.gost_ca()
            stand_in = crl_of(gost_ca).sign(_new_key("ec"), hashes.SHA256())  # signed again by GOST below
            crl = gost_issuer.revocation_list(stand_in, gost_key)
            self._write("crl/gost-ca.crl", crl.public_bytes(serialization.Encoding.DER))


def organization_subject(common_name: str, organization: str, bin_: str) -> list[x509.NameAttribute]:
    """A legal entity's subject: CN, C=KZ, O = organisation, OU = "BIN" + 12 digits."""
    return [
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"BIN{bin_}"),
    ]


def person_subject(iin: str, surname: str, name: str, patronymic: str | None) -> list[x509.NameAttribute]:
    subject = [
        x509.NameAttribute(NameOID.COMMON_NAME, f"{surname} {name}"),
        x509.NameAttribute(NameOID.SURNAME, surname),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{iin}"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
    ]
    if patronymic:
        subject.append(x509.NameAttribute(NameOID.GIVEN_NAME, patronymic))
    return subject


OPERATOR_BIN = "121240000013"  # the mesh operator's БИН written into service certificates


def bootstrap(
    ca: DevCA,
    *,
    population_size: int = DEFAULT_POPULATION_SIZE,
    population_seed: int = DEFAULT_POPULATION_SEED,
    demo: int = 3,
) -> None:
    """Issue what is missing: each service's certificate, each demo clinic's seal, its demo staff's employee
    certificates and demo citizens' keys."""
    from shared.demo.people import demo_citizens, demo_staff
    from shared.rules.clinics import load_clinics

    issued = ca.folder / "issued"
    for service in SERVICES:
        if not (issued / f"service-{service}.pem").exists():
            ca.save(ca.issue_service(service, OPERATOR_BIN), f"service-{service}")
    clinics = load_clinics()
    names = {c.bin: c.name for c in clinics.clinics}
    heads = {m.clinic_bin: m for m in demo_staff(clinics) if m.role == "head"}
    for clinic in clinics.clinics:
        if not (issued / f"clinic-{clinic.bin}.pem").exists():
            # Results are signed with the ЭЦП of a person with the right to sign for the clinic (its head),
            # which the АРМ holds to sign results as it decides them.
            head = heads[clinic.bin]
            signer = ca.issue_employee(
                head.iin, head.surname, head.name, clinic.bin, names[clinic.bin], (Role.HEAD, Role.SIGNING_RIGHT)
            )
            ca.save(signer, f"clinic-{clinic.bin}")
    for member in demo_staff(clinics):
        if not (issued / f"staff-{member.iin}.pem").exists():
            role = Role.HEAD if member.role == "head" else Role.EMPLOYEE
            employee = ca.issue_employee(
                member.iin, member.surname, member.name, member.clinic_bin, names[member.clinic_bin], role
            )
            ca.save(employee, f"staff-{member.iin}")
    if demo <= 0 or population_size <= 0:
        return
    citizens = demo_citizens(population_size, population_seed)
    for person in [
        *citizens.attached_1[:demo],
        *citizens.attached_4[:demo],
        *citizens.unattached[:demo],
        citizens.parent,
    ]:
        if not (issued / f"citizen-{person.iin}.pem").exists():
            surname, name = person.surname.upper(), person.name.upper()
            patronymic = person.patronymic.upper() if person.patronymic else None
            ca.save(ca.issue_person(person.iin, surname, name, patronymic), f"citizen-{person.iin}")


# What each service may hold besides its own certificate: the АРМ signs results with its clinics' seals.
EXTRA_KEYS = {"arm": ("clinic-",)}


def _copy(source: Path, target: Path, *, secret: bool = False) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(source.read_bytes())
    os.chmod(tmp, 0o600 if secret else 0o644)
    os.replace(tmp, target)  # atomic: a service re-reading CRLs never sees half a file


def export(ca: DevCA, public: Path, keys: Path) -> None:
    """Hand out what the services of a deployment may hold. ``public`` gets the trust anchors and current
    CRLs and no private key; ``keys/<service>/`` gets that service's certificate and key only (the АРМ also
    its clinics' result-signing keys). The CA's own keys, and everyone else's, stay in the CA's folder."""
    _copy(ca.folder / "trust.pem", public / "trust.pem")
    for crl in sorted((ca.folder / "crl").glob("*.crl")):
        _copy(crl, public / "crl" / crl.name)
    issued = ca.folder / "issued"
    for service in SERVICES:
        prefixes = (f"service-{service}.", *EXTRA_KEYS.get(service, ()))
        for source in sorted(issued.glob("*.pem")):
            if source.name.startswith(prefixes):
                _copy(source, keys / service / source.name, secret=source.name.endswith(".key.pem"))


def deploy(ca: DevCA, public: Path, keys: Path, *, republish_every: float | None = None) -> None:
    """Export (after :func:`bootstrap`), mark ``public/ready``; with ``republish_every`` keep running as the
    deployment's CA, republishing the CRLs (valid 24 periods ahead, so services never fail closed by
    accident)."""
    ca.publish_crls(next_update=dt.timedelta(seconds=(republish_every or 3600) * 24))
    export(ca, public, keys)
    (public / "ready").write_text("ok\n")
    print(f"development CA: public part in {public}, service keys in {keys}", file=sys.stderr, flush=True)
    while republish_every:
        time.sleep(republish_every)
        ca.publish_crls(next_update=dt.timedelta(seconds=republish_every * 24))
        export(ca, public, keys)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``init``, ``service``, ``person``, ``revoke``, ``crl``."""
    parser = argparse.ArgumentParser(prog="python -m services.signature.ca", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("EMHANA_PKI_DIR", "var/pki")))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create root and intermediate (idempotent) and publish CRLs")
    service = sub.add_parser("service", help="issue an information-system certificate")
    service.add_argument("address")
    service.add_argument("--bin", default=OPERATOR_BIN)
    person = sub.add_parser("person", help="issue a citizen's SIGN (or AUTH) certificate")
    person.add_argument("iin")
    person.add_argument("surname")
    person.add_argument("name")
    person.add_argument("--patronymic")
    person.add_argument("--auth", action="store_true", help="an AUTH key instead of SIGN")
    person.add_argument(
        "--key-type", choices=["ec", "rsa", "gost"], default="ec", help="gost: a GOST 2015 key file as НУЦ issues"
    )
    person.add_argument("--save-as")
    revoke = sub.add_parser("revoke", help="revoke a certificate by serial (hex) and publish CRLs")
    revoke.add_argument("serial")
    partner = sub.add_parser("partner", help="sign a partner system's CSR: its certificate, chain included")
    partner.add_argument("csr", type=Path, help="the partner's certificate request (PEM)")
    partner.add_argument("--address", required=True, help="its address on the gateway, e.g. mz.eregistry")
    partner.add_argument("--bin", required=True, help="the partner organisation's БИН")
    partner.add_argument("--organization", required=True)
    partner.add_argument("--out", type=Path, required=True, help="where to write the certificate chain (PEM)")
    sub.add_parser("bootstrap", help="CA plus a certificate for each service, when missing (idempotent)")
    deploy_cmd = sub.add_parser("deploy", help="bootstrap, then hand out the public part and each service's key")
    deploy_cmd.add_argument("--public", type=Path, required=True, help="trust.pem and crl/ for every service")
    deploy_cmd.add_argument("--keys", type=Path, required=True, help="one folder per service: its key only")
    deploy_cmd.add_argument("--republish-every", type=float, help="keep running, republishing CRLs (seconds)")
    crl = sub.add_parser("crl", help="publish CRLs")
    crl.add_argument("--hours", type=float, default=24.0, help="hours until the next update")
    crl.add_argument("--stale", action="store_true", help="publish CRLs whose next update has passed")
    args = parser.parse_args(argv)
    ca = DevCA(args.dir, clock=Clock(float(os.environ.get("EMHANA_CLOCK_OFFSET_SECONDS", "0"))))
    if args.command in ("bootstrap", "deploy"):
        bootstrap(
            ca,
            population_size=int(os.environ.get("EMHANA_POPULATION_SIZE", DEFAULT_POPULATION_SIZE)),
            population_seed=int(os.environ.get("EMHANA_POPULATION_SEED", DEFAULT_POPULATION_SEED)),
        )
    if args.command == "deploy":
        deploy(ca, args.public, args.keys, republish_every=args.republish_every)
    elif args.command == "service":
        ca.save(ca.issue_service(args.address, args.bin), f"service-{args.address}")
    elif args.command == "person":
        purpose = KeyPurpose.AUTH if args.auth else KeyPurpose.SIGN
        issued = ca.issue_person(
            args.iin, args.surname, args.name, args.patronymic, purpose=purpose, key_type=args.key_type
        )
        path = ca.save(issued, args.save_as or f"citizen-{args.iin}-{purpose.value.lower()}")
        print(f"{path} serial={format(issued.certificate.serial_number, 'x')}")
    elif args.command == "partner":
        cert = ca.sign_partner_csr(args.csr.read_bytes(), args.address, args.bin, args.organization)
        chain = [cert, ca.ca]
        args.out.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
        print(f"{args.out} serial={format(cert.serial_number, 'x')}")
    elif args.command == "revoke":
        ca.revoke(args.serial)
    elif args.command == "crl":
        if args.stale:
            ca.publish_crls(next_update=dt.timedelta(hours=1), last_update=ca._now() - dt.timedelta(hours=2))
        else:
            ca.publish_crls(next_update=dt.timedelta(hours=args.hours))
    print(f"development CA ready in {args.dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
