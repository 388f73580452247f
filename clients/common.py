"""What the command-line clients share: a JSON API client with typed errors, key files, form fields."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

from shared.wire import keyfile
from shared.wire.clock import ASTANA
from shared.wire.jws import GostSigner, SigningKey


class CliError(Exception):
    pass


class SessionFile:
    """Where a client keeps its URL and token: ``~/.emhana/<name>`` (mode 0600), or the file ``env`` names."""

    def __init__(self, env: str, name: str) -> None:
        self.env, self.name = env, name

    @property
    def path(self) -> Path:
        return Path(os.environ.get(self.env, Path.home() / ".emhana" / self.name))

    def load(self) -> dict[str, str]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def save(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(mode=0o600, exist_ok=True)
        self.path.write_text(json.dumps(data))


class JsonClient:
    """A bearer-token JSON client; an error answer becomes a :class:`CliError` with its code."""

    def __init__(self, url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=30)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
                raise CliError(
                    f"{response.status_code} {body.get('code')}: {body.get('message')}"
                    + (f" ({body['detail']})" if body.get("detail") else "")
                )
            except ValueError:
                raise CliError(f"{response.status_code}: {response.text[:200]}") from None
        return response.json() if response.content else None


def load_key(
    path: Path, password: str | None, chain_path: Path | None
) -> tuple[SigningKey | GostSigner, list[x509.Certificate]]:
    """A PKCS#12 file (with its password; RSA and EC, and НУЦ's GOST 2015 key files), or a PEM key with the
    PEM chain next to it (``.key.pem``/``.pem``).

    Every problem with the files is a :class:`CliError` that says which file and what is wrong."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read the key file {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() in (".p12", ".pfx"):
            try:
                key, cert, extra = pkcs12.load_key_and_certificates(data, (password or "").encode() or None)
            except ValueError:
                return _gost_key_file(path, data, password)
            if key is None or cert is None:
                raise CliError("the PKCS#12 file holds no key and certificate")
            # mypy ignores the next line: PKCS#12 gives any key type; signing refuses what it cannot use
            return key, [cert, *extra]  # type: ignore[list-item,return-value]
        key = load_pem_private_key(data, (password or "").encode() or None)
    except (ValueError, TypeError):
        raise CliError(f"{path}: wrong key password, or not a key file") from None
    chain_file = chain_path or path.with_name(path.name.replace(".key.pem", ".pem"))
    try:
        return key, x509.load_pem_x509_certificates(chain_file.read_bytes())  # type: ignore[return-value]  # as above
    except OSError as exc:
        raise CliError(f"cannot read the certificate chain {chain_file}: {exc.strerror or exc}") from None
    except ValueError:
        raise CliError(f"{chain_file} holds no PEM certificates") from None


def _gost_key_file(path: Path, data: bytes, password: str | None) -> tuple[GostSigner, list[x509.Certificate]]:
    """A key file ``cryptography`` cannot open may be НУЦ's GOST 2015 one (its key is what it refuses)."""
    try:
        opened = keyfile.load_gost(data, password or "")
    except keyfile.NotGostKeyFile:
        raise CliError(f"{path}: wrong key password, or not a key file") from None
    except keyfile.KeyFileError as exc:
        raise CliError(f"{path}: {exc}") from None
    return (opened.private, opened.curve), opened.chain


def run_quietly(main: Any) -> Any:
    """Run a CLI's ``main``: a closed pipe (``| head``) ends it quietly, never with a traceback."""

    def wrapped(argv: list[str] | None = None) -> int:
        try:
            return int(main(argv))
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # Python flushes stdout at exit: let it go nowhere
            return 0
        except KeyboardInterrupt:
            return 130

    return wrapped


def parse_fields(pairs: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise CliError(f"--field wants name=value, got {pair!r}")
        try:
            fields[name] = json.loads(value) if value[:1] in "[{" or name == "temperature" else value
        except json.JSONDecodeError:
            fields[name] = value
    return fields


def local_time(moment: str) -> str:
    """A time in JSON output: Astana time with its offset, to the second (ISO 8601, for machines)."""
    return dt.datetime.fromisoformat(moment).astimezone(ASTANA).isoformat(timespec="seconds")


def when(moment: str | None) -> str:
    """A time as the tables and messages show it to people: dd.mm.yyyy HH:MM, Astana time (as the pages)."""
    if not moment:
        return "—"
    return f"{dt.datetime.fromisoformat(moment).astimezone(ASTANA):%d.%m.%Y %H:%M}"


Column = tuple[str, Callable[[dict[str, Any]], Any]]


def json_option(parser: argparse.ArgumentParser) -> Callable[..., argparse.ArgumentParser]:
    """``--json`` on ``parser`` and on each of its commands (``emhana --json requests`` and ``emhana requests
    --json`` alike); returns the function that adds a command."""
    parser.add_argument("--json", action="store_true", help="print the API's JSON (for scripts), not tables")
    flag = argparse.ArgumentParser(add_help=False)
    flag.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="the API's JSON, not tables")
    commands = parser.add_subparsers(dest="command", required=True)
    return functools.partial(commands.add_parser, parents=[flag])


class Output:
    """What a command prints: short lines and aligned tables for people, or with ``--json`` the API's JSON
    (times in Astana time, ISO 8601) for machines."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def data(self, data: Any, *lines: str) -> None:
        """``data`` as JSON with ``--json``; otherwise the given lines."""
        if self.as_json:
            show(data)
            return
        for line in lines:
            print(line)

    def table(self, data: Any, rows: list[dict[str, Any]], columns: list[Column], empty: str = "nothing") -> None:
        """``data`` as JSON with ``--json``; otherwise ``rows`` as a table of ``columns`` (title, cell)."""
        if self.as_json:
            show(data)
            return
        if not rows:
            print(f"({empty})")
            return
        cells = [[_cell(cell(row)) for _, cell in columns] for row in rows]
        widths = [max(len(title), *(len(line[i]) for line in cells)) for i, (title, _) in enumerate(columns)]
        print("  ".join(title.ljust(width) for (title, _), width in zip(columns, widths, strict=True)).rstrip())
        for line in cells:
            print("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    return "—" if value is None or value == "" else str(value).replace("\n", " ")


# Exit statuses beyond 0 (done), 1 (an error answer) and 2 (the service cannot be reached).
REFUSED_EXIT = 4  # the clinic (or a check of the regulation) refused the request
FAILED_EXIT = 5  # a technical failure: the request may be sent again (``retry``)
PENDING_EXIT = 6  # still without an outcome when --wait ran out


def _in_astana_time(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _in_astana_time(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_in_astana_time(value) for value in data]
    if isinstance(data, str) and len(data) >= 20 and data[4:5] == "-" and data[10:11] == "T":
        try:
            moment = dt.datetime.fromisoformat(data)
        except ValueError:
            return data
        return local_time(data) if moment.tzinfo is not None else data
    return data


def show(data: Any) -> None:
    """Print an answer as JSON, every timestamp in Astana time (as the regulation's deadlines are)."""
    print(json.dumps(_in_astana_time(data), ensure_ascii=False, indent=2))


def document_lines(document: dict[str, Any], indent: str = "") -> list[str]:
    """A result document as ``name: value`` lines (nested parts indented, times in Astana time)."""
    lines = []
    for name, value in document.items():
        if name == "nonce":  # what makes the signed document count once: nothing for people to read
            continue
        if isinstance(value, dict):
            lines += [f"{indent}{name}:", *document_lines(value, indent + "  ")]
        elif isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and value[10:11] == "T":
            lines.append(f"{indent}{name}: {when(value)}")
        else:
            lines.append(f"{indent}{name}: {value}")
    return lines
