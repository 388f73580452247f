"""Sign a document with a НУЦ РК key file — RSA or GOST 2015 — as a compact JWS and as a CMS SignedData
(the form NCALayer returns), and have the mesh's signature service judge both (docs/signing.md).

    python examples/rest/sign_with_nca_key.py --key GOSTKNCA_….p12 --password '…' \\
        --document '{"hello":"world"}' --verify http://127.0.0.1:8105

It prints one JSON object: the two signatures and, with ``--verify``, the service's verdict on each.
GOST needs what ``cryptography`` lacks, so this example uses the project's own pure modules for it
(``shared/wire/``: ``gost.py``, ``keyfile.py``, ``cms.py``, ``jws.py`` — no I/O, no service code), which
a partner may copy as they are; RSA keys go through ``cryptography`` alone.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import sys
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.serialization import pkcs12

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project's root, for shared/

from shared.wire import cms, jws, keyfile


def open_key(path: Path, password: str):  # type: ignore[no-untyped-def]
    """The key (RSA/EC, or a GOST (private, curve) pair) and its chain, from a PKCS#12 key file."""
    data = path.read_bytes()
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode())
    except ValueError:  # cryptography cannot read GOST keys: НУЦ's GOST key file
        opened = keyfile.load_gost(data, password)
        return (opened.private, opened.curve), opened.chain
    return key, [cert, *extra]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--document", required=True, help="the exact text to sign (UTF-8)")
    parser.add_argument("--verify", help="the signature service's URL, to have both signatures judged")
    parser.add_argument(
        "--signing-time", type=dt.datetime.fromisoformat, help="the CMS's signing time (ISO 8601; default now)"
    )
    args = parser.parse_args()
    key, chain = open_key(args.key, args.password)
    document = args.document.encode()
    signed = {
        "jws": jws.sign_compact(document, key, chain),
        # detached, as NCALayer makes it
        "cms": cms.sign(document, key, chain, signing_time=args.signing_time or dt.datetime.now(dt.UTC)),
    }
    if args.verify:
        with httpx.Client(base_url=args.verify, timeout=30) as http:
            content = base64.b64encode(document).decode()
            signed["verdicts"] = {
                "jws": http.post("/api/v1/verify", json={"jws": signed["jws"]}).json(),
                "cms": http.post("/api/v1/verify", json={"cms": signed["cms"], "content": content}).json(),
            }
    print(json.dumps(signed, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
