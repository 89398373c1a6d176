"""Schemathesis against the live OpenAPI schema with a valid admin key: no route answers 5xx, whatever it is sent.

Bounded to a few examples per operation so the whole run stays within about two minutes on a shared machine.
(Schemathesis' own pytest plugin does not run under pytest 9, so the operations are driven with hypothesis here.)
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES_PER_OPERATION = 6


def test_no_route_answers_5xx(live_server: str, api_keys: dict[str, str]) -> None:
    headers = {"X-API-Key": api_keys["admin"]}
    schema = schemathesis.openapi.from_url(f"{live_server}/docs/openapi.json", headers=headers)
    server_errors: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case: schemathesis.Case) -> None:
            response = case.call(base_url=live_server, headers=headers, timeout=30)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
                )

        exercise()
    assert operations > 60, f"only {operations} operations found in the schema"
    assert not server_errors, "\n".join(sorted(set(server_errors))[:30])
    # With a valid admin key nothing is refused for auth, and plenty of generated requests succeed.
    assert statuses[401] == 0 and statuses[403] == 0, statuses
    assert sum(n for status, n in statuses.items() if status < 300) > operations, statuses
