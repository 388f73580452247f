"""Operators can see the mesh: Prometheus metrics that move when an e-service runs, and JSON log lines that
carry the correlation id of the citizen's request in every service."""

from __future__ import annotations

import json

import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.mesh import Mesh
from tests.conftest import People
from tests.e2e.test_eservices import CLINIC_1, HOME_CALL, citizens

WATCHED = {
    "portal": ("emhana_http_requests_total", {"route": "/api/v1/requests/{draft_id}/sign", "status": "201"}),
    "gateway": (
        "emhana_gateway_routed_total",
        {"sender": "portal", "recipient": f"arm.{CLINIC_1}", "type": "eservice.request", "outcome": "delivered"},
    ),
    "arm": ("emhana_bus_messages_total", {"type": "eservice.request", "outcome": "accepted"}),
    "gbd_fl": ("emhana_bus_messages_total", {"type": "person.lookup", "outcome": "accepted"}),
    "signature": ("emhana_bus_messages_total", {"type": "document.verify", "outcome": "accepted"}),
}


async def sample(mesh: Mesh, service: str) -> float:
    name, labels = WATCHED[service]
    async with httpx.AsyncClient(base_url=mesh.url(service)) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    total = 0.0
    for family in text_string_to_metric_families(response.text):
        for metric in family.samples:
            if metric.name == name and all(metric.labels.get(k) == v for k, v in labels.items()):
                total += metric.value
    return total


async def test_the_counters_of_every_service_move_when_an_e_service_runs(
    mesh: Mesh, citizen_factory, people: People
) -> None:
    before = {service: await sample(mesh, service) for service in WATCHED}
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    request = await citizen.submit("home_call", **HOME_CALL)
    assert (await citizen.wait(request["id"]))["status"] == "completed"
    after = {service: await sample(mesh, service) for service in WATCHED}
    assert all(after[s] > before[s] for s in WATCHED), (before, after)


async def test_one_correlation_id_follows_a_request_through_all_five_services(
    mesh: Mesh, citizen_factory, people: People
) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    request = await citizen.submit("home_call", **HOME_CALL)
    final = await citizen.wait(request["id"])
    assert final["status"] == "completed" and final["correlation_id"] == request["correlation_id"]
    correlation = request["correlation_id"]
    assert mesh.log_file is not None
    seen: set[str] = set()
    for line in mesh.log_file.read_text(errors="replace").splitlines():
        if correlation in line and line.startswith("{"):
            entry = json.loads(line)
            if entry.get("cid") == correlation:
                seen.add(entry["service"])
    assert seen >= {"portal", "gateway", "arm", "gbd_fl", "signature"}, seen
