"""Certificate checks for ЭЦП signatures, modelled on the НУЦ РК profile (docs/architecture.md, "Certificates").

The chain is built and checked here rather than with ``cryptography.x509.verification`` because each
failure must become a distinct refusal code (expired vs. untrusted vs. revoked…), and because НУЦ
certificates carry no SAN and no clientAuth EKU on SIGN keys, which the library's verifiers demand.
Revocation is checked against CRLs and fails closed: a missing, stale or badly signed CRL means
"status unknown", never "valid".
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.wire import keys
from shared.wire.clock import Clock
from shared.wire.refusals import Refusal, RefusalError

log = logging.getLogger(__name__)

MAX_CHAIN_LENGTH = 6


class Role(StrEnum):
    """Role OIDs carried in the extended key usage of НУЦ certificates."""

    INDIVIDUAL = "1.2.398.3.3.4.1.1"
    LEGAL_ENTITY = "1.2.398.3.3.4.1.2"
    HEAD = "1.2.398.3.3.4.1.2.1"
    SIGNING_RIGHT = "1.2.398.3.3.4.1.2.2"
    EMPLOYEE = "1.2.398.3.3.4.1.2.5"
    INFORMATION_SYSTEM = "1.2.398.3.3.4.1.2.6"


class KeyPurpose(StrEnum):
    SIGN = "SIGN"
    AUTH = "AUTH"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class CertIdentity:
    """Who a certificate names and what its key may do."""

    common_name: str
    surname: str | None
    given_name: str | None
    patronymic: str | None
    iin: str | None
    bin: str | None
    organization: str | None
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    purpose: KeyPurpose
    roles: tuple[str, ...]
    issuer: str

    @property
    def service(self) -> str | None:
        """Mesh address a service certificate speaks for (information-system role, CN = address)."""
        return self.common_name if Role.INFORMATION_SYSTEM in self.roles else None


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _strip_prefix(value: str | None, prefix: str) -> str | None:
    if value is None or not value.startswith(prefix):
        return None
    return value[len(prefix) :]


def key_purpose(cert: x509.Certificate) -> KeyPurpose:
    """SIGN: digitalSignature + nonRepudiation, EKU emailProtection; AUTH: keyEncipherment + clientAuth."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return KeyPurpose.OTHER
    ekus = _ekus(cert)
    if usage.digital_signature and usage.content_commitment and ExtendedKeyUsageOID.EMAIL_PROTECTION in ekus:
        return KeyPurpose.SIGN
    if usage.digital_signature and usage.key_encipherment and ExtendedKeyUsageOID.CLIENT_AUTH in ekus:
        return KeyPurpose.AUTH
    return KeyPurpose.OTHER


def _ekus(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return []


def identity_of(cert: x509.Certificate) -> CertIdentity:
    """Read the НУЦ-profile subject of a certificate (attributes by OID, not by OpenSSL's short names)."""
    subject = cert.subject
    common_name = _attribute(subject, NameOID.COMMON_NAME) or ""
    surname = _attribute(subject, NameOID.SURNAME)
    given_name = None
    if surname and common_name.startswith(surname + " "):
        given_name = common_name[len(surname) + 1 :]
    role_values = {r.value for r in Role}
    return CertIdentity(
        common_name=common_name,
        surname=surname,
        given_name=given_name,
        patronymic=_attribute(subject, NameOID.GIVEN_NAME),
        iin=_strip_prefix(_attribute(subject, NameOID.SERIAL_NUMBER), "IIN"),
        bin=_strip_prefix(_attribute(subject, NameOID.ORGANIZATIONAL_UNIT_NAME), "BIN"),
        organization=_attribute(subject, NameOID.ORGANIZATION_NAME),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        purpose=key_purpose(cert),
        roles=tuple(o.dotted_string for o in _ekus(cert) if o.dotted_string in role_values),
        issuer=cert.issuer.rfc4514_string(),
    )


CRL_SUFFIXES = {".crl", ".pem", ".der"}


def _crl_order(crl: x509.CertificateRevocationList) -> tuple[int, dt.datetime]:
    """Which of two lists of one issuer is newer: by CRL number, then by this-update time."""
    try:
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = -1
    return number, crl.last_update_utc


def _is_delta(crl: x509.CertificateRevocationList) -> bool:
    try:
        crl.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
    except x509.ExtensionNotFound:
        return False
    return True


def _fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        return keys.certificate_signed_by(cert, issuer)
    except keys.UnsupportedAlgorithm as exc:
        raise RefusalError(Refusal.CERT_UNSUPPORTED_ALGORITHM, str(exc)) from None


@dataclass(slots=True)
class _LoadedCrl:
    crl: x509.CertificateRevocationList
    revoked: frozenset[int]
    signature_ok: dict[bytes, bool] = field(default_factory=dict)  # issuer fingerprint → verdict


@dataclass(frozen=True, slots=True)
class _Link:
    """One certificate of a path as its revocation check needs it: its serial and its issuer."""

    serial: int
    issuer_name: bytes  # DER of the issuer's name, as CRLs are filed
    issuer_fingerprint: bytes
    issuer: x509.Certificate


@dataclass(frozen=True, slots=True)
class _CheckedChain:
    """A chain whose path to an anchor has been verified, with what each later use checks again."""

    links: list[_Link]  # leaf first; the anchor itself has no link
    not_before: dt.datetime  # the latest start of validity along the path
    not_after: dt.datetime  # the earliest end
    identity: CertIdentity


class TrustStore:
    """Trust anchors and revocation lists, with the checks of docs/architecture.md for one certificate chain.

    Anchors come from a PEM bundle and CRLs from a folder (``*.crl``, DER or PEM); both are re-read when
    their files change, looked at no more often than every ``refresh_seconds``, so that a newly published
    revocation is enforced within seconds by every service that holds a store.
    """

    def __init__(
        self,
        anchors: list[x509.Certificate],
        crls: list[x509.CertificateRevocationList] | None = None,
        *,
        clock: Clock | None = None,
        anchor_file: Path | None = None,
        crl_dir: Path | None = None,
        refresh_seconds: float = 2.0,
        require_ca_crls: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock or Clock()
        self._anchor_file = anchor_file
        self._crl_dir = crl_dir
        self._refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._next_look = 0.0
        self._seen_state: tuple[tuple[str, float], ...] = ()
        self._chains: dict[tuple[x509.Certificate, ...], _CheckedChain] = {}
        # per issuer (and base or delta), the newest CRL ever loaded by this store
        self._newest: dict[tuple[bytes, bool], _LoadedCrl] = {}
        self.require_ca_crls = require_ca_crls
        self._set(anchors, crls or [])

    @classmethod
    def from_files(
        cls,
        anchor_file: Path,
        crl_dir: Path,
        *,
        clock: Clock | None = None,
        refresh_seconds: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> TrustStore:
        """A store that loads (and later reloads) anchors from a PEM bundle and CRLs from a folder."""
        store = cls(
            [],
            clock=clock,
            anchor_file=anchor_file,
            crl_dir=crl_dir,
            refresh_seconds=refresh_seconds,
            monotonic=monotonic,
        )
        store.refresh(force=True)
        return store

    def _set(self, anchors: list[x509.Certificate], crls: list[x509.CertificateRevocationList]) -> None:
        self._chains = {}  # chains are re-checked against the new anchors
        self._anchors = {_fingerprint(a): a for a in anchors}
        self._crls: dict[tuple[bytes, bool], list[_LoadedCrl]] = {}
        for crl in crls:
            # A delta CRL (RFC 5280 5.2.4; НУЦ's "Freshest CRL") is filed apart from its issuer's base list:
            # it numbers after the base, and must never push the base aside as "older".
            issuer = (crl.issuer.public_bytes(), _is_delta(crl))
            newest = self._newest.get(issuer)
            if newest is not None and _crl_order(crl) < _crl_order(newest.crl):
                # An older list put back over a newer one must not un-revoke anything: keep the newer one.
                log.warning("older CRL ignored", extra={"issuer": crl.issuer.rfc4514_string()})
                continue
            loaded = _LoadedCrl(crl, frozenset(r.serial_number for r in crl))
            self._crls.setdefault(issuer, []).append(loaded)
        for issuer, newest in self._newest.items():
            if issuer not in self._crls:
                self._crls[issuer] = [newest]  # its file was removed or replaced by an older one
        for issuer, group in self._crls.items():
            best = max(group, key=lambda loaded: _crl_order(loaded.crl))
            self._newest[issuer] = best

    def _crl_files(self) -> list[Path]:
        """CRL files in the folder, as a CA publishes them: ``.crl``, ``.pem`` or ``.der``."""
        if self._crl_dir is None or not self._crl_dir.is_dir():
            return []
        return sorted(p for p in self._crl_dir.iterdir() if p.suffix.lower() in CRL_SUFFIXES and p.is_file())

    def _file_state(self) -> tuple[tuple[str, float], ...]:
        files: list[Path] = []
        if self._anchor_file is not None:
            files.append(self._anchor_file)
        files.extend(self._crl_files())
        return tuple((str(f), f.stat().st_mtime_ns) for f in files if f.exists())

    def refresh(self, *, force: bool = False) -> None:
        """Re-read anchors and CRLs if their files changed (cheap: a few ``stat`` calls)."""
        if self._anchor_file is None:
            return
        now = self._monotonic()
        if not force and now < self._next_look:
            return
        self._next_look = now + self._refresh_seconds
        state = self._file_state()
        if state == self._seen_state and not force:
            return
        anchors = x509.load_pem_x509_certificates(self._anchor_file.read_bytes()) if self._anchor_file.exists() else []
        crls = []
        for path in self._crl_files():
            data = path.read_bytes()
            try:
                crls.append(x509.load_pem_x509_crl(data) if data.startswith(b"-----") else x509.load_der_x509_crl(data))
            except ValueError:
                log.warning("unreadable CRL skipped", extra={"crl_file": path.name})
        self._set(anchors, crls)
        self._seen_state = state
        log.info("trust store loaded", extra={"anchors": len(anchors), "crls": len(crls)})

    @property
    def crls(self) -> list[x509.CertificateRevocationList]:
        return [loaded.crl for group in self._crls.values() for loaded in group]

    def _checked(self, chain: list[x509.Certificate]) -> _CheckedChain:
        """The chain's path to an anchor and what every later use needs, found once per chain.

        Cached by the certificates themselves (compared by their DER bytes): the signatures inside
        certificates never change, so the path stands until the anchors or lists are reloaded; validity
        and revocation (cheap) are checked again on every use by :meth:`verify_chain`.
        """
        key = tuple(chain[:MAX_CHAIN_LENGTH])
        cached = self._chains.get(key)
        if cached is not None:
            return cached
        path = self._find_path(chain)
        if len(self._chains) > 10_000:
            self._chains.clear()
        checked = self._chains[key] = _CheckedChain(
            links=[
                _Link(cert.serial_number, cert.issuer.public_bytes(), _fingerprint(issuer), issuer)
                for cert, issuer in itertools.pairwise(path)
            ],
            not_before=max(c.not_valid_before_utc for c in path),
            not_after=min(c.not_valid_after_utc for c in path),
            identity=identity_of(chain[0]),
        )
        return checked

    def _find_path(self, chain: list[x509.Certificate]) -> list[x509.Certificate]:
        path = [chain[0]]
        pool = chain[1:MAX_CHAIN_LENGTH]
        current = chain[0]
        for _ in range(MAX_CHAIN_LENGTH):
            if _fingerprint(current) in self._anchors:
                return path
            issuer = next(
                (a for a in self._anchors.values() if a.subject == current.issuer and _issued_by(current, a)),
                None,
            )
            if issuer is None:
                issuer = next((c for c in pool if c.subject == current.issuer and _issued_by(current, c)), None)
            if issuer is None or not _is_ca(issuer):
                break
            path.append(issuer)
            current = issuer
        raise RefusalError(Refusal.CERT_UNTRUSTED, "certificate does not chain to a trusted anchor")

    def _check_revocation(self, link: _Link, now: dt.datetime, *, leaf: bool) -> None:
        """The certificate's status from its issuer's current CRL (and current delta CRL, where one is
        published here). An end-entity certificate's status must be known from a current *base* list (fail
        closed: a fresh delta alone says nothing of what the base revoked); a CA certificate is checked
        whenever its issuer publishes a CRL here, and needs one only with ``require_ca_crls`` (many CAs
        distribute no list for their intermediates)."""
        bases = self._crls.get((link.issuer_name, False), [])
        deltas = self._crls.get((link.issuer_name, True), [])
        if not leaf and not bases and not self.require_ca_crls:
            return
        fresh = False
        for is_base, group in ((True, bases), (False, deltas)):
            for loaded in group:
                if not self._current(loaded, link, now):
                    continue
                fresh = fresh or is_base
                if link.serial in loaded.revoked:
                    raise RefusalError(Refusal.CERT_REVOKED, "certificate is revoked")
        if not fresh:
            raise RefusalError(
                Refusal.CERT_STATUS_UNKNOWN,
                f"no current revocation list from {link.issuer.subject.rfc4514_string()} (serial {link.serial:x})",
            )

    @staticmethod
    def _current(loaded: _LoadedCrl, link: _Link, now: dt.datetime) -> bool:
        """A list signed by the link's issuer and current now."""
        verdict = loaded.signature_ok.get(link.issuer_fingerprint)
        if verdict is None:
            try:
                verdict = keys.crl_signed_by(loaded.crl, link.issuer)
            except keys.UnsupportedAlgorithm:
                verdict = False  # a list we cannot check says nothing: fail closed
            loaded.signature_ok[link.issuer_fingerprint] = verdict
        if not verdict:
            return False
        next_update = loaded.crl.next_update_utc
        return not (
            next_update is None or next_update < now or loaded.crl.last_update_utc > now + dt.timedelta(minutes=5)
        )

    def verify_chain(
        self, chain: list[x509.Certificate], *, purpose: KeyPurpose | None = KeyPurpose.SIGN
    ) -> CertIdentity:
        """Check a chain (leaf first) now; return the leaf's identity or raise a coded RefusalError."""
        self.refresh()
        if not chain:
            raise RefusalError(Refusal.CERT_UNTRUSTED, "no certificate")
        now = self.clock.now()
        checked = self._checked(chain)
        if now < checked.not_before:
            raise RefusalError(Refusal.CERT_NOT_YET_VALID, "a certificate in the chain is not yet valid")
        if now > checked.not_after:
            raise RefusalError(Refusal.CERT_EXPIRED, "a certificate in the chain has expired")
        for index, link in enumerate(checked.links):
            self._check_revocation(link, now, leaf=index == 0)
        identity = checked.identity
        if purpose is not None and identity.purpose is not purpose:
            raise RefusalError(Refusal.CERT_WRONG_USAGE, f"a {purpose} key is required, got {identity.purpose}")
        return identity
