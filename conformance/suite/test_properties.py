"""Property tests: Schemathesis generates valid and invalid requests for each operation of openapi.yaml
and checks every answer against the contract (status, content type, schema, data acceptance, auth)."""

import pytest

from conformance.judgement.checks import counts_probes
from conformance.runner import property_tests as properties
from conformance.runner.run import active_run

RUN = active_run()
schema = properties.build_schema(RUN)
# Creates are split by mode: valid ones place calls and are drawn only as often as the budget allows.
valid_creates = properties.valid_creates_schema(RUN)
invalid_creates = properties.invalid_creates_schema(RUN)

COMMON = ("CALLS-NO-SERVER-ERROR", "CALLS-CONTRACT-STATUS", "CALLS-SID-FORMAT")
pytestmark = pytest.mark.property


@pytest.mark.requirements(*COMMON, "CALLS-LIST-200", "CALLS-CONTENT-TYPE-JSON", "CALLS-CALL-SCHEMA",
                          "CALLS-CALL-STATUS-ENUM", "CALLS-CALL-DIRECTION-ENUM")
@schema.include(operation_id="listCalls").parametrize()
def test_list_calls_answers_as_the_contract_says(case):
    properties.call_and_check(case, RUN)


@pytest.mark.requirements(*COMMON, "CALLS-GET-UNKNOWN-404")
@schema.include(operation_id="getCall").parametrize()
def test_get_call_answers_as_the_contract_says(case):
    properties.call_and_check(case, RUN)


@pytest.mark.creates_calls
@pytest.mark.requirements(*COMMON, "CALLS-CREATE-SUCCESS")
@valid_creates.include(operation_id="createCall").parametrize()
def test_create_call_accepts_what_the_contract_allows(case):
    reason = RUN.budget.skip_reason()
    if reason:
        pytest.skip(reason)
    properties.call_and_check(case, RUN)


@pytest.mark.creates_calls
@pytest.mark.requirements(*COMMON, "CALLS-CREATE-REJECTS-INVALID", "CALLS-CREATE-REJECTS-MISTYPED")
@invalid_creates.include(operation_id="createCall").parametrize()
def test_create_call_refuses_what_the_contract_forbids(case):
    # Each invalid body probes the requirement it falls under: the run may send no mistyped one at all.
    counts_probes("CALLS-CREATE-REJECTS-INVALID", "CALLS-CREATE-REJECTS-MISTYPED")
    properties.call_and_check(case, RUN, count_invalid_bodies=True)


@pytest.mark.requirements(*COMMON)
@schema.include(operation_id="deleteCall").parametrize()
def test_delete_call_answers_as_the_contract_says(case):
    properties.call_and_check(case, RUN)
