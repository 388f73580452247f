"""The page's GOST signer (shared/web/static/gost.js, run by Node.js) against shared/wire/gost.py: the same
Streebog digests, and signatures that the services' verifier accepts. Its tables are the generated ones."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from shared.web import gost_tables
from shared.wire import gost

STATIC = Path(gost_tables.__file__).parent / "static"
SCRIPT = """
global.window = global;
require(%(tables)s);
require(%(gost)s);
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = input.messages.map((hex) => {
  const bytes = Uint8Array.from(Buffer.from(hex, "hex"));
  return {
    digest: Buffer.from(EmhanaGost.streebog512(bytes)).toString("hex"),
    signature: Buffer.from(EmhanaGost.sign(BigInt(input.key), bytes)).toString("hex"),
  };
});
process.stdout.write(JSON.stringify(out));
"""


def test_the_tables_file_is_current() -> None:
    assert gost_tables.TARGET.read_text() == gost_tables.render(), "run python -m shared.web.gost_tables"


def test_the_page_signer_agrees_with_the_services_verifier() -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed for this test (.ci/run installs it)"
    private = 0x1D2C3B4A59687766554433221100FFEEDDCCBBAA99887766554433221100ABCDEF
    messages = [b"", b"a", bytes(range(64)), "Ауырып тұрмын".encode() * 40]
    script = SCRIPT % {
        "tables": json.dumps(str(STATIC / "gost-tables.js")),
        "gost": json.dumps(str(STATIC / "gost.js")),
    }
    answer = subprocess.run(
        [node, "-e", script],
        input=json.dumps({"key": str(private), "messages": [m.hex() for m in messages]}),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    results = json.loads(answer.stdout)
    public = gost.public_key_of(private, gost.TC26_512_A)
    for message, result in zip(messages, results, strict=True):
        assert result["digest"] == gost.streebog(message).hex()
        signature = bytes.fromhex(result["signature"])
        assert gost.verify(public, message, signature)
        assert not gost.verify(public, message + b"!", signature)
