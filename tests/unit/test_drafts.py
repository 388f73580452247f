"""The one draft-signing rule of both channels (shared.rules.drafts): exactly the prepared document, once,
before it expires — for a compact JWS and for NCALayer's detached CMS, which gets the document put inside."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs7

from services.signature.ca import DevCA, bootstrap
from shared.rules.drafts import signed_draft
from shared.rules.errors import Expired
from shared.wire.clock import Clock
from shared.wire.documents import signed_content
from shared.wire.envelope import ServiceIdentity
from shared.wire.jws import sign_compact
from shared.wire.refusals import Refusal, RefusalError

NOW = dt.datetime(2026, 12, 8, 9, 0, tzinfo=dt.UTC)
DOCUMENT = '{"iin":"850315300019","service":"home_call"}'


@dataclass
class Draft:
    document: str = DOCUMENT
    used_at: dt.datetime | None = None
    expires_at: dt.datetime = NOW + dt.timedelta(minutes=15)


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> ServiceIdentity:
    ca = DevCA(tmp_path_factory.mktemp("pki"), clock=Clock())
    bootstrap(ca, population_size=0)
    return ServiceIdentity.from_pki("portal", Path(ca.folder), "service-portal")


def test_the_prepared_document_signed_once_in_time_is_accepted(signer: ServiceIdentity) -> None:
    token = sign_compact(DOCUMENT.encode(), signer.key, signer.chain)
    assert signed_draft(Draft(), token, NOW) == token


def test_a_detached_cms_gets_the_document_inside(signer: ServiceIdentity) -> None:
    detached = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(DOCUMENT.encode())
        .add_signer(signer.chain[0], signer.key, hashes.SHA256())  # type: ignore[arg-type]
        .sign(pkcs7.serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature])
    )
    token = signed_draft(Draft(), base64.b64encode(detached).decode(), NOW)
    assert signed_content(token) == DOCUMENT.encode()


@pytest.mark.parametrize(
    ("draft", "content", "refused"),
    [
        (Draft(used_at=NOW - dt.timedelta(minutes=1)), DOCUMENT, Refusal.DUPLICATE_REQUEST),
        (Draft(), DOCUMENT.replace("home_call", "attachment"), Refusal.SIGNATURE_INVALID),
    ],
    ids=["signed-twice", "another-document"],
)
def test_refusals(signer: ServiceIdentity, draft: Draft, content: str, refused: Refusal) -> None:
    with pytest.raises(RefusalError) as info:
        signed_draft(draft, sign_compact(content.encode(), signer.key, signer.chain), NOW)
    assert info.value.code is refused


def test_an_expired_draft_must_be_prepared_again(signer: ServiceIdentity) -> None:
    token = sign_compact(DOCUMENT.encode(), signer.key, signer.chain)
    with pytest.raises(Expired) as info:
        signed_draft(Draft(expires_at=NOW), token, NOW)
    assert info.value.code == "DRAFT_EXPIRED"
