"""The compose deployment's defaults: no secret has a default, little is published, what must restart
does, and the development CA never replaces trust anchors it did not make (see test_outside_ca)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "docker-compose.yml"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_no_secret_has_a_default() -> None:
    text = COMPOSE.read_text()
    assert "change-me" not in text
    for name in ("EMHANA_RABBITMQ_PASSWORD", "EMHANA_POSTGRES_PASSWORD", "EMHANA_GATEWAY_OPERATOR_TOKEN"):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses and all(use.startswith(":?") for use in uses), (name, uses)  # required, never defaulted
    assert not re.search(r"(PASSWORD|PASS|TOKEN): [^$\s]", text)  # no literal secret anywhere


def test_only_the_portal_and_the_gateway_publish_ports() -> None:
    services = compose()["services"]
    published = {name: spec.get("ports") for name, spec in services.items() if spec.get("ports")}
    assert set(published) == {"portal", "gateway", "arm"}
    assert all(port.startswith("127.0.0.1:") for port in published["arm"])  # staff: the host's loopback only
    assert "15672" not in COMPOSE.read_text()  # RabbitMQ's management interface is not exposed


def test_the_broker_and_the_database_restart() -> None:
    services = compose()["services"]
    assert services["rabbitmq"]["restart"] == services["postgres"]["restart"] == "unless-stopped"
