"""Schemathesis against ``/api/v1/openapi.json`` through the WSGI app (no server), issue 18.

Every documented operation gets a bounded, deterministic set of generated requests (positive and
negative data) as ``admin`` and as a scoped ``hub_staff`` user. Every response must be a non-5xx,
carry a documented status code and match its documented schema. The figures (operations, requests,
server errors, schema mismatches) are printed (``-s``) and asserted.
"""
from __future__ import annotations

import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi import checks as oa_checks


# Per operation and role: 5 valid requests and 2 invalid ones (negative data), the same every run.
MAX_EXAMPLES = {"positive": 5, "negative": 2}
CHECKS = [schemathesis.checks.not_a_server_error, oa_checks.status_code_conformance,
          oa_checks.content_type_conformance, oa_checks.response_schema_conformance]


def _real_ids(session) -> dict:
    """Path parameters naming real objects of the demo world (random ids would nearly all be 404s)."""
    from sqlalchemy import select

    from bcp_service.drills.models import CorrectiveAction, Drill
    from bcp_service.messaging.models import Rollcall
    from bcp_service.outages.models import FieldTask, Outage, Transport
    from bcp_service.plans.models import Plan
    from bcp_service.registry.models import Patient

    first = {name: session.scalars(select(model.id).order_by(model.id)).first() for name, model in (
        ("patient_id", Patient), ("plan_id", Plan), ("drill_id", Drill), ("outage_id", Outage),
        ("transport_id", Transport), ("task_id", FieldTask), ("rollcall_id", Rollcall),
        ("action_id", CorrectiveAction))}
    return {**{k: v for k, v in first.items() if v is not None}, "section_key": "policy", "plan_type": "kikan",
            "key": "blackout_72h", "code": "1000001", "pref_code": "13"}


def _fuzz(schema, headers: dict, ids: dict, stats: Counter, statuses: Counter, failures: list) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()
        stats["operations"] += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            # Valid requests go to real objects; invalid ones get generated (also malformed) ids.
            fixed = ({p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
                     if mode is GenerationMode.POSITIVE else None)
            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
            @settings(max_examples=MAX_EXAMPLES[mode.value], derandomize=True, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def run(case):
                t0 = time.monotonic()
                response = case.call(headers=headers)
                stats["request_ms"] += round((time.monotonic() - t0) * 1000)
                stats["requests"] += 1
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    stats["server_errors"] += 1
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except (AssertionError, FailureGroup) as exc:
                    stats["mismatches"] += 1
                    for failure in getattr(exc, "exceptions", (exc,)):
                        failures.append((operation.label, mode.value, response.status_code,
                                         getattr(failure, "title", type(failure).__name__),
                                         " ".join(str(getattr(failure, "message", failure)).split())[:300]))

            run()


@pytest.mark.timeout(240)
def test_the_api_answers_every_generated_request_as_documented(app, session, make_region, make_user,
                                                               auth_headers):
    from bcp_service import demo

    demo.seed(patients=6)       # region 1301 with patients, plans, drills, an outage, a roll-call
    make_region("2701", prefecture_code="27", name="試験大阪", municipality_codes=("271004",))
    ids = _real_ids(session)
    admin = auth_headers(make_user("admin"))
    hub = auth_headers(make_user("hub_staff", scope="1301"))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    stats, statuses, failures = Counter(), Counter(), []
    started = time.monotonic()
    for headers in (admin, hub):
        _fuzz(schema, headers, ids, stats, statuses, failures)
    stats["seconds"] = round(time.monotonic() - started)
    print(f"schemathesis: {dict(stats)} statuses: {dict(sorted(statuses.items()))}")
    for failure in failures[:40]:
        print(*failure)
    assert stats["operations"] >= 2 * 75
    assert stats["server_errors"] == 0, failures
    assert stats["mismatches"] == 0, failures
