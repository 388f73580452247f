"""Operators can see the mesh: Prometheus metrics that move when an e-service runs, and JSON log lines that
carry the correlation id of the citizen's request in every service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.signature.ca import DevCA
from shared.demo.people import DemoCitizens
from shared.wire.clock import Clock
from tests.conftest import OPERATOR_TOKEN, People, mesh_start_time, running_mesh
from tests.e2e.citizens import Citizen
from tests.e2e.test_eservices import CLINIC_1, HOME_CALL, citizens
from tests.waiting import until
from tools.launcher import Mesh

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


async def test_the_gateway_journal_answers_by_request_id_and_registration_number(
    mesh: Mesh, citizen_factory, people: People
) -> None:
    (citizen,) = await citizens(citizen_factory, people, "attached_1")
    request = await citizen.submit("home_call", **HOME_CALL)
    final = await citizen.wait(request["id"])
    number = final["registration_number"]
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    async with httpx.AsyncClient(base_url=mesh.url("gateway"), headers=headers) as http:

        async def journal(**query: str) -> list[dict]:
            response = await http.get("/api/v1/journal", params=query)
            assert response.status_code == 200, response.text
            return response.json()

        by_request = await journal(request_id=request["id"])
        assert {(r["type"], r["sender"], r["recipient"]) for r in by_request} == {
            ("eservice.request", "portal", f"arm.{CLINIC_1}"),
            ("eservice.status", f"arm.{CLINIC_1}", "portal"),
        }
        assert sum(r["type"] == "eservice.status" for r in by_request) == 2  # registered, completed
        assert all(r["request_id"] == request["id"] for r in by_request)
        by_number = await journal(registration_number=number)
        assert by_number and all(
            r["type"] == "eservice.status" and r["registration_number"] == number for r in by_number
        )
        assert request["correlation_id"] in {r["message_id"] for r in by_request}  # the request as sent
        two = await http.get("/api/v1/journal", params={"request_id": request["id"], "registration_number": number})
        assert two.status_code == 422 and two.json()["code"] == "VALIDATION_ERROR"  # exactly one criterion


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mesh, Path]]:
    """A mesh of its own with tracing configured to files (``EMHANA_TRACE_FILE``)."""
    folder = tmp_path_factory.mktemp("traced")
    with running_mesh("sqlite", folder, mesh_start_time(), EMHANA_TRACE_FILE=str(folder / "spans")) as instance:
        yield instance, folder


async def test_one_trace_follows_a_request_through_all_five_services(
    traced: tuple[Mesh, Path], demo: DemoCitizens
) -> None:
    """With tracing configured (here: to files), the spans of one citizen's home call — the portal's HTTP
    request, the gateway's hops, the signature check, the АРМ's registration and its ГБД ФЛ lookup — share
    one trace id, and no span carries the citizen's ИИН."""
    traced_mesh, folder = traced
    clock = Clock(traced_mesh.clock_offset_seconds)
    # its own mesh and databases: no other test meets this person there
    citizen = await Citizen(demo.attached_1[0], traced_mesh, DevCA(traced_mesh.pki_dir, clock=clock), clock).enter()
    request = await citizen.submit("home_call", **HOME_CALL)
    assert (await citizen.wait(request["id"]))["status"] == "completed"

    def spans() -> list[dict]:
        return [json.loads(line) for path in folder.glob("spans.*.jsonl") for line in path.read_text().splitlines()]

    def sign_trace() -> str | None:
        signs = [s for s in spans() if s["attributes"].get("http.route") == "/api/v1/requests/{draft_id}/sign"]
        return signs[0]["trace_id"] if signs else None

    async def signed() -> str | None:
        return sign_trace()

    trace_id = await until(signed, 60, "the portal's span of the signing")

    async def all_five() -> set[str]:
        services = {s["service"] for s in spans() if s["trace_id"] == trace_id}
        return services if len(services) == 5 else set()

    services = await until(all_five, 60, "spans of all five services in one trace")
    assert services == {f"emhana-{s}" for s in ("portal", "gateway", "signature", "arm", "gbd_fl")}
    statements = [s for s in spans() if s["trace_id"] == trace_id and "db.system" in s["attributes"]]
    assert statements, "database statements appear in the trace"
    text = "".join(path.read_text() for path in folder.glob("spans.*.jsonl"))
    assert citizen.iin not in text  # masked like the logs
    await citizen.close()
