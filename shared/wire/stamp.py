"""The gateway's routing stamp: proof that a delivery came through the ШЭП.

Services answer only what the gateway delivered (regulation: all exchange between СФЕ goes through the
ШЭП). The gateway adds a compact JWS to each delivery, over the message id, recipient, body hash, the
time it accepted the message and whether it is a request awaiting a reply; the recipient checks it with
the gateway's certificate. Expiry is judged at acceptance, so a transaction queued for a recipient that
is down is still processed when it returns. A request's stamp lives only as long as its caller waits,
and a service answers each one once (:class:`shared.messaging.dispatch.Dispatcher`), so a stamped request copied
off a queue cannot be replayed for another answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from shared.wire.canonical import canonical_json
from shared.wire.certs import TrustStore
from shared.wire.documents import verify_document
from shared.wire.envelope import Envelope, ServiceIdentity
from shared.wire.jws import sign_compact
from shared.wire.refusals import Refusal, RefusalError
from shared.wire.topology import GATEWAY

STAMP_HEADER = "x-emhana-gateway-stamp"


def body_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def make_stamp(
    gateway: ServiceIdentity, envelope: Envelope, raw: bytes, accepted_at: dt.datetime, *, sync: bool = False
) -> str:
    """The stamp of one delivery: bound to the message, its recipient queue and how it is delivered (a
    request awaiting a reply, or a queued message), so that it cannot be reused for another delivery."""
    claims = {
        "id": str(envelope.id),
        "recipient": envelope.recipient,
        "sha256": body_hash(raw),
        "accepted_at": accepted_at.isoformat(),
        "sync": sync,
    }
    return sign_compact(canonical_json(claims), gateway.key, gateway.chain)


def check_stamp(
    stamp: object, envelope: Envelope, raw: bytes, store: TrustStore, addresses: set[str], *, sync: bool = False
) -> dt.datetime:
    """Verify a delivery's stamp; return when the gateway accepted the message."""
    if not isinstance(stamp, str):
        raise RefusalError(Refusal.ACCESS_DENIED, "message did not come through the gateway")
    document = verify_document(stamp, store)
    if document.signer.service != GATEWAY:
        raise RefusalError(Refusal.ACCESS_DENIED, "stamp not signed by the gateway")
    claims = document.claims()
    if (
        claims.get("id") != str(envelope.id)
        or claims.get("sha256") != body_hash(raw)
        or claims.get("recipient") != envelope.recipient
        or envelope.recipient not in addresses
        or claims.get("sync") is not sync  # a queued message's stamp cannot carry a request, nor vice versa
    ):
        raise RefusalError(Refusal.ACCESS_DENIED, "stamp does not match this delivery")
    try:
        accepted_at = dt.datetime.fromisoformat(str(claims.get("accepted_at")))
    except ValueError:
        raise RefusalError(Refusal.MALFORMED, "stamp time unreadable") from None
    if envelope.expires_at <= accepted_at:
        raise RefusalError(Refusal.EXPIRED, "message had expired when the gateway accepted it")
    return accepted_at
