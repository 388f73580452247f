"""HTTP API of the signature service: verify a signed document, fetch CRLs and trust anchors."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.signature.service import verdict
from shared.platform.http import ApiError, error_responses
from shared.wire.contracts import Verdict, VerifyRequest

router = APIRouter(responses=error_responses(404))


@router.post("/api/v1/verify", response_model=Verdict, tags=["signature"])
async def verify(body: VerifyRequest, request: Request) -> Verdict:
    """Verify a compact JWS with ``x5c`` or NCALayer's CMS (``cms``; a detached one with ``content``, the
    document in base64): signature, chain, validity, CRL, key usage, expected ИИН/БИН.

    Always 200 with a verdict for a well-formed request; ``valid`` is false with a refusal code otherwise.
    """
    return verdict(body, request.app.state.runtime.store)


def _crl_response(request: Request, name: str) -> Response:
    path = request.app.state.runtime.settings.pki / "crl" / f"{name}.crl"
    if not path.exists():
        raise ApiError(404, "CRL_NOT_FOUND", f"no CRL named {name}")
    return Response(path.read_bytes(), media_type="application/pkix-crl")


@router.get("/crl", tags=["signature"], response_class=Response)
async def current_crl(request: Request) -> Response:
    """The issuing CA's current CRL (DER)."""
    return _crl_response(request, "ca")


@router.get("/crl/{name}", tags=["signature"], response_class=Response)
async def named_crl(name: str, request: Request) -> Response:
    """A CRL by name: ``ca`` (issuing CA) or ``root``."""
    if name not in {"ca", "root"}:
        raise ApiError(404, "CRL_NOT_FOUND", "known CRLs: ca, root")
    return _crl_response(request, name)


@router.get("/api/v1/trust-anchors", tags=["signature"], response_class=Response)
async def trust_anchors(request: Request) -> Response:
    """The PEM bundle of trust anchors this mesh accepts."""
    return Response(
        (request.app.state.runtime.settings.pki / "trust.pem").read_bytes(), media_type="application/x-pem-file"
    )
