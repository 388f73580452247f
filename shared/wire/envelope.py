"""The signed envelope every message between services travels in (docs/architecture.md, "The mesh").

The signature is a detached JWS over the RFC 8785 canonical JSON of the envelope without ``signature``.
A receiver verifies over the object exactly as received (not over a re-serialised model), so a
sender's choice of timestamp formatting can never break verification.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.wire.canonical import UnacceptableJson, canonical_json, loads_strict
from shared.wire.certs import CertIdentity, TrustStore
from shared.wire.clock import Clock
from shared.wire.jws import JwsError, SigningKey, parse, sign_detached, verify_signature
from shared.wire.refusals import Refusal, RefusalError

MAX_TTL = dt.timedelta(days=1)
CLOCK_SKEW = dt.timedelta(seconds=30)
MAX_ENVELOPE_BYTES = 1024 * 1024


class Envelope(BaseModel):
    """A verified (or about to be signed) message between services."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID
    type: str = Field(min_length=1, max_length=100)
    sender: str = Field(min_length=1, max_length=100)
    recipient: str = Field(min_length=1, max_length=100)
    correlation_id: uuid.UUID | None = None
    issued_at: dt.datetime
    expires_at: dt.datetime
    payload: dict[str, Any]
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceIdentity:
    """A service's address, signing key and certificate chain (leaf first)."""

    address: str
    key: SigningKey
    chain: list[x509.Certificate]

    @classmethod
    def load(cls, address: str, cert_file: Path, key_file: Path) -> ServiceIdentity:
        chain = x509.load_pem_x509_certificates(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        # mypy ignores the next line: a service key is RSA or EC; any other fails when it signs
        return cls(address=address, key=key, chain=chain)  # type: ignore[arg-type]

    @classmethod
    def from_keys(cls, address: str, keys_dir: Path, name: str) -> ServiceIdentity:
        """``<name>.pem`` (the chain) and ``<name>.key.pem`` from a keys folder."""
        return cls.load(address, keys_dir / f"{name}.pem", keys_dir / f"{name}.key.pem")

    @classmethod
    def from_pki(cls, address: str, pki_dir: Path, name: str) -> ServiceIdentity:
        """The same from a development PKI folder, which keeps every issued key under ``issued/``."""
        return cls.from_keys(address, pki_dir / "issued", name)


def address_belongs_to(address: str, identity: CertIdentity) -> bool:
    """Whether a certificate may speak for ``address``.

    A service certificate's CN is its address. The АРМ is one information system hosting many clinics
    (docs/architecture.md), so its certificate (CN ``arm``) speaks for every ``arm.<БИН>`` address; a clinic's
    own results are additionally signed with that clinic's certificate, checked against its БИН.
    """
    service = identity.service
    if service is None:
        return False
    return address == service or address.split(".", 1)[0] == service == "arm"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def seal(
    identity: ServiceIdentity,
    *,
    type: str,
    recipient: str,
    payload: dict[str, Any],
    clock: Clock,
    correlation_id: uuid.UUID | str | None = None,
    ttl: dt.timedelta = dt.timedelta(minutes=5),
    message_id: uuid.UUID | None = None,
    sender: str | None = None,
) -> tuple[uuid.UUID, bytes]:
    """Build and sign an envelope; return its id and the bytes to publish."""
    now = clock.now()
    message_id = message_id or uuid.uuid4()
    body: dict[str, Any] = {
        "id": str(message_id),
        "type": type,
        "sender": sender or identity.address,
        "recipient": recipient,
        "correlation_id": str(correlation_id) if correlation_id else None,
        "issued_at": _iso(now),
        "expires_at": _iso(now + min(ttl, MAX_TTL)),
        "payload": payload,
    }
    body["signature"] = sign_detached(canonical_json(body), identity.key, identity.chain)
    return message_id, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Opened:
    envelope: Envelope
    signer: CertIdentity


def peek(raw: bytes) -> Envelope | None:
    """Parse without verifying (only to address a refusal to the sender); ``None`` if unreadable."""
    try:
        return Envelope.model_validate_json(raw)
    except (ValidationError, ValueError, RecursionError):
        return None


def open_envelope(raw: bytes, store: TrustStore, clock: Clock, *, check_expiry: bool = True) -> Opened:
    """Verify structure, signature, chain, sender identity and time window; raise a coded RefusalError."""
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise RefusalError(Refusal.MALFORMED, "envelope too large")
    try:
        body = loads_strict(raw)
    except UnacceptableJson as exc:
        raise RefusalError(Refusal.MALFORMED, f"envelope: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("signature"), str):
        raise RefusalError(Refusal.MALFORMED, "envelope has no signature")
    signature = body.pop("signature")
    try:
        envelope = Envelope.model_validate({**body, "signature": signature})
    except ValidationError as exc:
        raise RefusalError(Refusal.MALFORMED, f"envelope fields: {exc.error_count()} errors") from None
    try:
        parsed = parse(signature, canonical_json(body))
        verify_signature(parsed)
    except JwsError as exc:
        raise RefusalError(Refusal.SIGNATURE_INVALID, f"envelope signature: {exc}") from None
    signer = store.verify_chain(parsed.chain)
    if not address_belongs_to(envelope.sender, signer):
        raise RefusalError(Refusal.SIGNATURE_INVALID, "signing certificate does not belong to the sender")
    if check_expiry:
        check_window(envelope, clock)
    return Opened(envelope=envelope, signer=signer)


def check_window(envelope: Envelope, clock: Clock) -> None:
    """Refuse an expired message, one issued in the future, or one valid for longer than MAX_TTL."""
    now = clock.now()
    if envelope.expires_at <= now:
        raise RefusalError(Refusal.EXPIRED, "message expired")
    if envelope.issued_at > now + CLOCK_SKEW or envelope.expires_at - envelope.issued_at > MAX_TTL:
        raise RefusalError(Refusal.EXPIRED, "message time window is not acceptable")
