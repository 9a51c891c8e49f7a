"""The OpenAPI document states the truth: error answers as problem+json, real enums, the
content types of the routes that read their raw body."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from orderhub.orders.model import DeliveryMethod, OrderStatus, PaymentStatus

PROBLEM = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture
def document(sqlite_engine, settings) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from orderhub.app import create_app

    with TestClient(create_app(settings, engine=sqlite_engine)) as c:
        doc: dict[str, Any] = c.get("/openapi.json").json()
    return doc


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in doc["paths"].items() for m, op in ops.items() if p.startswith("/api/")]


def test_every_api_operation_declares_its_error_answers_as_problem_json(document: dict[str, Any]) -> None:
    for method, path, op in _operations(document):
        errors = {code: r for code, r in op["responses"].items() if code.startswith("4")}
        assert {"401", "422"} <= set(errors), f"{method} {path}: {sorted(errors)}"
        if method != "GET" or "{" in path:
            assert "404" in errors, f"{method} {path} names something that may not exist"
        if method in ("POST", "PUT", "PATCH"):
            assert {"400", "403", "409", "413"} <= set(errors), f"{method} {path}: {sorted(errors)}"
        for code, answer in errors.items():
            assert answer["content"] == {"application/problem+json": {"schema": PROBLEM}}, f"{method} {path} {code}"
    assert "HTTPValidationError" not in document["components"]["schemas"]
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])


def _param(doc: dict[str, Any], method: str, path: str, name: str) -> dict[str, Any]:
    params = doc["paths"][path][method]["parameters"]
    schema: dict[str, Any] = next(p for p in params if p["name"] == name)["schema"]
    return schema


def _enum(schema: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    """The enum of a schema, through ``anyOf`` (optional), ``items`` (lists) and ``$ref``."""
    for alt in schema.get("anyOf", [schema]):
        if alt.get("type") == "array":
            alt = alt["items"]
        if "$ref" in alt:
            alt = doc["components"]["schemas"][alt["$ref"].rsplit("/", 1)[1]]
        if "enum" in alt:
            return list(alt["enum"])
    raise AssertionError(f"no enum in {schema}")


def test_the_server_s_enums_are_enums_in_the_document(document: dict[str, Any]) -> None:
    statuses = [s.value for s in OrderStatus]
    assert _enum(_param(document, "get", "/api/v1/orders", "status"), document) == statuses
    transition = document["components"]["schemas"]["TransitionIn"]["properties"]["to"]
    assert _enum(transition, document) == statuses
    order = document["components"]["schemas"]["OrderCreate"]["properties"]
    assert _enum(order["payment_status"], document) == [s.value for s in PaymentStatus]
    assert _enum(order["delivery_method"], document) == [m.value for m in DeliveryMethod]
    assert _enum(_param(document, "post", "/api/v1/channels/{adapter}/orders", "adapter"), document) == [
        "pos",
        "shopify",
        "social",
        "woocommerce",
    ]
    assert _enum(_param(document, "post", "/api/v1/inventory/backorders/serve", "policy"), document) == [
        "vip_first",
        "profit",
        "fifo",
    ]
    assert _enum(_param(document, "get", "/api/v1/jobs", "status"), document) == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
    ]
    pilot = document["components"]["schemas"]["PilotIn"]["properties"]["mode"]
    assert _enum(pilot, document) == ["live", "pilot", "shadow"]


def test_routes_that_read_their_raw_body_declare_its_content_types(document: dict[str, Any]) -> None:
    def content(path: str) -> set[str]:
        return set(document["paths"][path]["post"]["requestBody"]["content"])

    assert content("/api/v1/orders") == {"application/json"}
    assert content("/api/v1/channels/{adapter}/orders") == {"application/json"}
    assert content("/api/v1/inventory/positions") == {"application/json"}
    assert content("/api/v1/carbon/factors") == {"text/csv", "application/json"}
    export = document["paths"]["/api/v1/carbon/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"application/json", "text/csv"}
