"""The portal's OpenAPI document with each e-service's form spelled out.

``POST /requests/prepare`` takes ``fields`` whose shape depends on ``service``; the portal validates them
with the service's form (``shared.wire.contracts.FORMS``) so that a wrong form is refused with the fields it
breaks. The generated document would show a bare object there; this adds the forms as components and
describes ``fields`` as one of them, with every format rule (ИИН pattern, phone, dates).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from shared.wire.contracts import FORMS, IIN_PATTERN


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the generated document plus the forms (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _, forms = models_json_schema(
                [(form, "validation") for form in FORMS.values()], ref_template="#/components/schemas/{model}"
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(forms["$defs"])
            prepare = components["PrepareIn"]["properties"]
            prepare["fields"] = {
                "description": "the form of the chosen service: "
                + ", ".join(f"{kind.value} → {form.__name__}" for kind, form in FORMS.items()),
                "anyOf": [{"$ref": f"#/components/schemas/{form.__name__}"} for form in FORMS.values()],
            }
            for body in ("LoginIn",):  # registration takes no ИИН: it is the certificate's
                iin = components[body]["properties"]["iin"]
                iin.update({"pattern": IIN_PATTERN, "description": "ИИН: 12 digits with a valid check digit"})
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
