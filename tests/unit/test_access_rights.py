"""The gateway's access rights come from a configuration file: a partner is an entry, not code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.gateway.access import DEFAULT_RIGHTS_FILE, AccessRights


def test_the_shipped_table_allows_the_regulations_exchanges_and_nothing_else() -> None:
    rights = AccessRights.load()
    assert rights.is_allowed("portal", "person.lookup", "gbd_fl")
    assert rights.is_allowed("portal", "eservice.request", "arm.980440012347")
    assert rights.is_allowed("arm.980440012347", "eservice.status", "portal")
    assert not rights.is_allowed("portal", "eservice.status", "arm.980440012347")  # only clinics report statuses
    assert not rights.is_allowed("gbd_fl", "person.lookup", "gbd_fl")
    assert rights.is_allowed("gbd_fl", "refusal", "portal")  # answers along an allowed pair
    assert not rights.is_allowed("signature", "refusal", "gbd_fl")
    assert rights.is_allowed("arm.980440012347", "pong", "portal") and not rights.is_allowed("gbd_fl", "pong", "arm")


def test_a_partner_system_is_a_configuration_entry(tmp_path: Path) -> None:
    table = json.loads(DEFAULT_RIGHTS_FILE.read_text())
    table["rights"].append({"sender": "mz.eregistry", "recipient": "gbd_fl", "types": ["person.lookup"]})
    path = tmp_path / "rights.json"
    path.write_text(json.dumps(table))
    rights = AccessRights.load(path)
    assert rights.is_allowed("mz.eregistry", "person.lookup", "gbd_fl")
    assert not rights.is_allowed("mz.eregistry", "eservice.request", "arm.980440012347")


def test_a_mistyped_message_type_stops_the_gateway_from_starting(tmp_path: Path) -> None:
    path = tmp_path / "rights.json"
    path.write_text(json.dumps({"rights": [{"sender": "a", "recipient": "b", "types": ["person.lokup"]}]}))
    with pytest.raises(ValidationError, match=r"person\.lokup"):
        AccessRights.load(path)
