"""The whole API fuzzed from its own OpenAPI document (schemathesis): whatever a client sends,
no 500 and no answer that breaks the schema the document promises."""

from __future__ import annotations

import dataclasses

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from demetra.api import create_app

TOKEN = "fuzz-token-8c1e"


def test_no_request_breaks_the_api(world: dict) -> None:
    # With a token set, so that the checks of authentication have something to check.
    app = create_app(dataclasses.replace(world["settings"], api_token=TOKEN),
                     engine=world["engine"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9
    for operation in operations:
        # Derandomized: the same cases on every run, so a failure can be replayed.
        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            # Every check but "schema-valid input is accepted": a channel must have data and
            # the end must not come before the start, which no schema can say.
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                                   excluded_checks=[positive_data_acceptance])

        check()
