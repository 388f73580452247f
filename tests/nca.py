"""НУЦ РК's published test material (tests/vectors/nca, see its README) as the tests use it."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from shared.wire import gost, keyfile
from shared.wire.certs import TrustStore
from shared.wire.clock import Clock

VECTORS = Path(__file__).parent / "vectors" / "nca"

# Moments inside the material's life (all of it has expired since): the GOST 2022 CA's CRL was current from
# 2022-07-27 to 2023-01-23, the RSA CA's from 2022-03-29 to 2022-09-25.
WHILE_GOST_CRL_CURRENT = dt.datetime(2022, 8, 15, 6, 0, tzinfo=dt.UTC)
WHILE_RSA_CRL_CURRENT = dt.datetime(2022, 6, 1, 6, 0, tzinfo=dt.UTC)
AFTER_GOST_CRL = dt.datetime(2023, 3, 1, 6, 0, tzinfo=dt.UTC)  # the person's certificate still valid
AFTER_GOST_CERT = dt.datetime(2023, 8, 1, 6, 0, tzinfo=dt.UTC)

GOST_PERSON_IIN = "123456789012"
RSA_PERSON_IIN = "123456789011"


def load_cert(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    return x509.load_pem_x509_certificate(data) if data.startswith(b"-----") else x509.load_der_x509_certificate(data)


def load_crl(path: Path) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl(path.read_bytes())


@dataclass(frozen=True)
class GostSigner:
    private: int
    curve: gost.Curve
    chain: list[x509.Certificate]

    @property
    def key(self) -> tuple[int, gost.Curve]:
        return self.private, self.curve

    def key_octets(self) -> bytes:
        return gost.public_key_of(self.private, self.curve).to_octets()


@dataclass(frozen=True)
class RsaSigner:
    key: rsa.RSAPrivateKey
    chain: list[x509.Certificate]


class _Nca:
    """Paths and opened keys of the material; each key file is opened once per test run."""

    def __truediv__(self, part: str) -> Path:
        return VECTORS / part

    @functools.cache  # noqa: B019 - one instance for the whole run
    def gost_key(self, name: str) -> GostSigner:
        opened = keyfile.load_gost((VECTORS / "keys" / name).read_bytes(), "Aa123456")
        return GostSigner(opened.private, opened.curve, opened.chain)

    def gost_person(self) -> GostSigner:
        """ТЕСТТОВ ТЕСТТ, IIN123456789012: a valid, unrevoked GOST 2015 signing key."""
        return self.gost_key("individual_valid_2015_gost.p12")

    def gost_revoked_head(self) -> GostSigner:
        return self.gost_key("ceo_revoked_2015_gost.p12")

    @functools.cache  # noqa: B019
    def rsa_key(self, name: str) -> RsaSigner:
        key, cert, extra = pkcs12.load_key_and_certificates((VECTORS / "keys" / name).read_bytes(), b"Qwerty12")
        assert isinstance(key, rsa.RSAPrivateKey) and cert is not None
        return RsaSigner(key, [cert, *extra])

    def anchors(self) -> list[x509.Certificate]:
        return [load_cert(p) for p in sorted((VECTORS / "ca").iterdir())]

    def crls(self) -> list[x509.CertificateRevocationList]:
        return [load_crl(p) for p in sorted((VECTORS / "crl").iterdir())]

    def store(self, at: dt.datetime) -> TrustStore:
        """A trust store with НУЦ's test CAs and CRLs whose clock reads ``at``."""
        return TrustStore(self.anchors(), self.crls(), clock=Clock.starting_at(at))


NCA = _Nca()
