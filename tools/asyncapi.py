"""The published contract of the bus (:mod:`shared.wire.asyncapi`, made from the message declarations of
:mod:`shared.wire.contracts`): an AsyncAPI 3 document and a JSON Schema per payload, for other
e-government systems, written to docs/contracts/.

    python -m tools.asyncapi            # writes docs/contracts/
    python -m tools.asyncapi --check    # exit 1 when docs/contracts/ is not what the code says

The test suite runs the check, so the published files can never drift from the code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shared.wire.asyncapi import asyncapi, schemas

OUT = Path(__file__).resolve().parent.parent / "docs" / "contracts"


def render() -> dict[str, str]:
    """The files of docs/contracts/, by relative path."""
    files = {"asyncapi.json": asyncapi()}
    files |= {f"schemas/{name}.json": schema for name, schema in sorted(schemas().items())}
    return {
        path: json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n" for path, value in files.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.asyncapi", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when out of date")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    stale = [
        path
        for path, text in render().items()
        if not (args.out / path).exists() or (args.out / path).read_text() != text
    ]
    if args.check:
        for path in stale:
            print(f"out of date: {args.out / path}", file=sys.stderr)
        return 1 if stale else 0
    for path, text in render().items():
        (args.out / path).parent.mkdir(parents=True, exist_ok=True)
        (args.out / path).write_text(text)
    print(f"{len(render())} files in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
