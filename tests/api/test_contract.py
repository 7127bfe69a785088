"""schemathesis fuzzes every operation of the served OpenAPI document with a valid token.

It runs on the app over moto (WSGI, no network), bounded in examples per operation and with
no per-example deadline (the shared machine's speed is not what is tested). Any 5xx, any
answer whose body breaks its documented schema, or any undocumented status fails the test.
"""

from __future__ import annotations

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import bearer

POSITIVE = schemathesis.GenerationMode.POSITIVE
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
]


def fuzz(
    operation: schemathesis.APIOperation, mode: schemathesis.GenerationMode, token: str
) -> None:
    """Run the checks on up to 25 generated requests for one operation."""

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=bearer(token), checks=CHECKS)

    run()


def test_api_keeps_its_contract(app: Flask, token: str) -> None:
    # Driven by hand rather than `schemathesis.pytest.from_fixture`, whose pytest plugin
    # does not run on pytest 9 yet; the generation and the checks are the same.
    for name in ("a.txt", "b.bin"):  # ids 1 and 2, which the generator tries early
        app.test_client().post(f"/api/v1/files?name={name}", data=b"x", headers=bearer(token))
    api = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == 25
    for operation in operations:
        # Negative mode breaks the inputs; an operation without any has nothing to break.
        has_inputs = bool(operation.path_parameters or operation.query or operation.body)
        modes = list(schemathesis.GenerationMode) if has_inputs else [POSITIVE]
        for mode in modes:
            try:
                fuzz(operation, mode, token)
            except Exception as error:
                error.add_note(f"while fuzzing {operation.label} ({mode.value})")
                raise
