"""Property-based pass over the OpenAPI spec (schemathesis strategies driven by
hypothesis): valid and invalid requests to every operation of an indexed workspace; none
may get a 5xx. (schemathesis' pytest fixture loader does not run under this pytest, so
the operations are looped here.)"""

from __future__ import annotations

from collections import Counter

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from tests.api.conftest import wait_job

EXAMPLES = 15


def test_no_server_errors_on_generated_requests(graph_backend: str, indexed_client) -> None:
    app = indexed_client.app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    failures: list[str] = []
    skipped: list[str] = []
    statuses: Counter[int] = Counter()
    for operation in operations:
        for mode in schemathesis.GenerationMode:
            try:
                strategy = operation.as_strategy(generation_mode=mode)
            except Exception as exc:  # an operation with nothing to negate
                if mode is schemathesis.GenerationMode.NEGATIVE:
                    continue
                raise AssertionError(f"{operation.label}: {exc}") from exc

            @given(case=strategy)
            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case) -> None:
                response = case.call()
                statuses[response.status_code // 100] += 1
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} {mode.value}: "
                                    f"{response.status_code} {response.text[:300]}")

            try:
                run()
            except Unsatisfiable:
                if mode is not schemathesis.GenerationMode.NEGATIVE:
                    raise
                skipped.append(operation.label)  # nothing in it can be made invalid
    ctx = app.state.ctx
    assert ctx.jobs.wait_idle(60)  # generated uploads finish before the workspace closes
    failed_jobs = [j.to_dict() for j in ctx.jobs.list() if wait_job(indexed_client, j.track_id)["status"] != "done"]
    assert statuses[2] >= 50 and statuses[4] >= 50, statuses  # both valid and refused requests were made
    assert not failures, "\n".join(failures[:20])
    assert not failed_jobs, [(j["kind"], j["error"], j["result"]) for j in failed_jobs]
