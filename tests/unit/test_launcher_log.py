"""`make run`'s terminal: the services log to a file, and the terminal gets one short line per message a
service handled and every warning — never the JSON lines themselves."""

from __future__ import annotations

import json
from pathlib import Path

from tools.launcher import LogFollower, summary


def record(**fields: object) -> bytes:
    return json.dumps({"ts": "2026-12-08T10:31:02", "level": "INFO", "service": "arm", **fields}).encode()


def test_a_handled_message_and_a_warning_make_a_line_and_the_rest_stays_in_the_file() -> None:
    handled = summary(record(msg="handling", type="eservice.request", sender="portal"))
    assert handled is not None and handled.split() == ["10:31:02", "arm", "eservice.request", "from", "portal"]
    warned = summary(record(level="WARNING", msg="sending failed; will retry"))
    assert warned == "10:31:02  arm        WARNING: sending failed; will retry"
    assert summary(record(msg="trust store loaded")) is None
    assert summary(b"not json") is None and summary(b"[1, 2]") is None


def test_the_follower_reads_what_comes_after_it_started_line_by_line(tmp_path: Path) -> None:
    log = tmp_path / "mesh.log"
    log.write_bytes(record(msg="handling", type="ping", sender="old") + b"\n")  # before the banner: not shown
    follower = LogFollower(log)
    assert follower.lines() == []
    with log.open("ab") as handle:
        handle.write(record(msg="handling", type="ping", sender="portal") + b"\n" + record(msg="handl")[:20])
    assert [line.split()[-1] for line in follower.lines()] == ["portal"]  # the half-written line waits
    with log.open("ab") as handle:
        handle.write(record(msg="handl")[20:].replace(b"handl", b"x") + b"\n")
    assert follower.lines() == []  # completed, and not a handled message
