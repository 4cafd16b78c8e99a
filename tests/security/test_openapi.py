"""Every status code a route's dependencies can answer is declared in the OpenAPI document
the real server serves, with the API's one error shape."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from siaga.app import create_app
from tests.conftest import LiveServer

ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorOut"}


def calls(dependant: Dependant) -> set[str]:
    """The qualified names of everything a route depends on, however deep."""
    found: set[str] = set()
    for sub in dependant.dependencies:
        found.add(getattr(sub.call, "__qualname__", repr(sub.call)))
        found |= calls(sub)
    return found


def can_answer(route: Any) -> set[str]:
    """What the route's dependencies and parameters can answer besides success."""
    dependant: Dependant = route.dependant
    deps = calls(dependant)
    codes = {"400", "413"}  # the body limit, on every request (siaga.limits)
    if "current_principal" in deps:
        codes.add("401")
    if any(name.startswith("require_role.") for name in deps):
        codes.add("403")
    if dependant.path_params:
        codes.add("404")
    params = dependant.path_params + dependant.query_params + dependant.body_params
    if params or dependant.header_params:
        codes.add("422")
    if route.path_format == "/api/auth/login":
        codes.add("429")  # the login throttle
    return codes


async def test_each_route_declares_what_its_dependencies_can_answer(
        live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.http_url) as http:
        document = (await http.get("/api/openapi.json")).json()
    app = create_app(live_server.runtime.settings)
    missing: dict[str, set[str]] = {}
    seen: set[str] = set()
    operations = 0
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in sorted(route.methods):
            operation = document["paths"][route.path_format][method.lower()]
            operations += 1
            declared = set(operation["responses"])
            wanted = can_answer(route)
            seen |= wanted
            if wanted - declared:
                missing[f"{method} {route.path_format}"] = wanted - declared
            for code, answer in operation["responses"].items():
                if code.startswith(("4", "5")):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == ERROR_SCHEMA, (method, route.path_format, code)
    assert missing == {}
    # The walk met every kind of route (the check above was not vacuous).
    assert operations >= 40 and {"401", "403", "404", "422", "429"} <= seen
    assert "HTTPValidationError" not in document["components"]["schemas"]
