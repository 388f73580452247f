"""OpenAPI that tells the truth about errors: every operation documents the error statuses it can answer
with the real body (`ErrorOut`: code from the refusal or API code enums, message, errors), and HTTP
errors keep the headers HTTP asks for (Allow on 405, WWW-Authenticate on 401)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from services import mesh
from shared.platform.http import form_error
from shared.wire.refusals import Refusal
from shared.wire.topology import SERVICES


def app_of(service: str):  # type: ignore[no-untyped-def]
    return mesh.SERVICES[service].create_app(mesh.settings_of(service))


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_documents_its_errors_with_the_real_body(service: str) -> None:
    schema = app_of(service).openapi()
    error_ref = "#/components/schemas/ErrorOut"
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert operations
    for path, method, operation in operations:
        responses = operation["responses"]
        for status in ("413", "422", "503"):
            assert responses[status]["content"]["application/json"]["schema"]["$ref"] == error_ref, (path, method)
    assert "HTTPValidationError" not in schema["components"]["schemas"]  # the 422 body is ours, not FastAPI's
    code = schema["components"]["schemas"]["ErrorOut"]["properties"]["code"]
    refs = {option["$ref"].rsplit("/", 1)[1] for option in code["anyOf"]}
    assert refs == {"Refusal", "ApiCode"}
    assert set(schema["components"]["schemas"]["Refusal"]["enum"]) == {r.value for r in Refusal}


def test_the_portal_documents_authentication_and_throttling() -> None:
    schema = app_of("portal").openapi()
    requests = schema["paths"]["/api/v1/requests"]["get"]["responses"]
    assert {"401", "404", "429", "504"} <= set(requests)
    assert schema["components"]["schemas"]["RefusalOut"]["properties"]["code"]["$ref"].endswith("/Refusal")


async def test_http_errors_keep_their_headers() -> None:
    app = app_of("portal")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as http:
        wrong_method = await http.delete("/api/v1/services")
        assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET"
        assert wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"
        anonymous = await http.get("/api/v1/requests")
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
        assert anonymous.json()["code"] == "UNAUTHORIZED"


def test_a_form_error_lists_its_fields_instead_of_a_json_string() -> None:
    class Form(BaseModel):
        phone: str
        temperature: float

    with pytest.raises(ValidationError) as info:
        Form.model_validate({"temperature": "hot"})
    error = form_error(info.value)
    assert error.status == 422 and error.code == "VALIDATION_ERROR"
    assert {tuple(e["loc"]) for e in error.errors} == {("phone",), ("temperature",)}
    assert error.message == "the form has invalid fields: phone, temperature"


def test_the_portal_spells_out_each_services_form_and_the_iin_format() -> None:
    from shared.wire.contracts import FORMS, IIN_PATTERN

    components = app_of("portal").openapi()["components"]["schemas"]
    fields = components["PrepareIn"]["properties"]["fields"]
    assert [option["$ref"].rsplit("/", 1)[1] for option in fields["anyOf"]] == [f.__name__ for f in FORMS.values()]
    assert components["HomeCallForm"]["properties"]["phone"]["pattern"] == r"^\+7\d{10}$"
    assert components["LoginIn"]["properties"]["iin"]["pattern"] == IIN_PATTERN


def test_every_error_code_the_code_raises_is_in_the_documented_enum() -> None:
    """Edge errors (``ApiError(status, code, …)``) and domain errors (``NotFound(code, …)`` and the other
    kinds of shared.rules.errors) name their code as a literal, and every one is documented."""
    import ast
    from pathlib import Path

    from shared.platform.http import HTTP_STATUS, ApiCode

    domain_kinds = {kind.__name__ for kind in HTTP_STATUS}
    root = Path(__file__).resolve().parents[2]
    raised, domain_raised = set(), set()
    for path in [*root.joinpath("services").rglob("*.py"), *root.joinpath("shared").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            name = getattr(node.func, "id", None) if isinstance(node, ast.Call) else None
            if name == "ApiError" or name in domain_kinds:
                assert isinstance(node, ast.Call)
                code = node.args[1 if name == "ApiError" else 0] if node.args else None
                assert isinstance(code, ast.Constant), f"{path}:{node.lineno}: give the code as a literal"
                raised.add(code.value)
                if name in domain_kinds:
                    domain_raised.add(code.value)
    assert raised and raised <= {c.value for c in ApiCode}, raised - {c.value for c in ApiCode}
    assert {"NOT_FOUND", "OVERLOADED", "TOO_MANY_ATTEMPTS"} <= domain_raised  # the walk sees domain errors


def test_domain_code_raises_domain_errors_and_leaves_http_to_the_edge() -> None:
    """The services' rules, accounts and journals, and the platform's auth and attachments, raise the errors
    of shared.rules.errors; only the edge (routes, pages, middleware) builds an ``ApiError``."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    domain = [
        "services/arm/staff.py",
        "services/arm/staff_accounts.py",
        "services/arm/roles.py",
        "services/portal/service.py",
        "services/portal/accounts.py",
        "services/portal/quality.py",
        "services/portal/security.py",
        "services/portal/admission.py",
        "shared/platform/auth.py",
        "shared/platform/attachments.py",
    ]
    assert [path for path in domain if "ApiError" in root.joinpath(path).read_text()] == []


async def test_an_unavailable_dependency_is_503_and_anything_else_a_json_500() -> None:
    from aiormq.exceptions import ConnectionClosed
    from fastapi import FastAPI
    from sqlalchemy.exc import OperationalError

    from shared.platform.http import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/broker")
    async def broker() -> None:
        raise ConnectionClosed(320, "CONNECTION_FORCED - broker forced connection closure")

    @app.get("/database")
    async def database() -> None:
        raise OperationalError("SELECT 1", {}, Exception("too many clients already"))

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        for path in ("/broker", "/database"):
            answer = await http.get(path)
            assert answer.status_code == 503 and answer.headers["retry-after"] == "5", path
            assert answer.json()["code"] == "UNAVAILABLE"
        bug = await http.get("/bug")
        assert bug.status_code == 500 and bug.json() == {
            "code": "INTERNAL_ERROR",
            "message": "an unexpected error; it is logged",
        }
