"""Stateful tests: Schemathesis follows the OpenAPI links of openapi.yaml (create -> get -> delete -> get)
and checks that a created call is available and that a deleted one is gone."""

import hypothesis
import pytest

from conformance.runner import property_tests as properties
from conformance.runner import safe_creates
from conformance.runner.run import active_run

RUN = active_run()
schema = properties.build_schema(RUN)
REQUIREMENTS = ["CALLS-NO-SERVER-ERROR", "CALLS-CONTRACT-STATUS", "CALLS-CREATE-SUCCESS", "CALLS-CREATE-VISIBLE",
                "CALLS-CALL-SCHEMA", "CALLS-CONTENT-TYPE-JSON"]
if RUN.config.embedded:
    REQUIREMENTS.append("CALLS-DELETE-REMOVES")
else:
    # On a real server a deleted live call may be written again by its next status update (D-21), and a
    # new call may take a moment to become readable (D-35): the lifecycle scenario checks both with
    # those allowances instead.
    schema.config.checks.update(excluded_check_names=["use_after_free", "ensure_resource_availability"])
    REQUIREMENTS.remove("CALLS-CREATE-VISIBLE")


class LinkedCalls(schema.as_state_machine()):
    #: The first finding of the run: Hypothesis may fail to replay a failing sequence (the server's state
    #: has moved on, so the links draw differently) and then reports only that the replay was flaky.
    first_finding: BaseException | None = None

    def step(self, input):
        if safe_creates.spends_a_call(input.case) and not safe_creates.generated_calls_allowed(RUN, "stateful"):
            # The budget for linked sequences is spent: the create is left out of the scenario. Rejecting it
            # instead would discard every later scenario that creates, and Hypothesis would keep drawing
            # new ones (about a thousand) before giving up.
            return None
        return super().step(input)

    def call(self, case, **kwargs):
        return properties.send(case, RUN, purpose="stateful")

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        try:
            properties.validate(case, response, RUN, additional_checks=additional_checks)
        except Exception as finding:
            if LinkedCalls.first_finding is None:
                LinkedCalls.first_finding = finding
            raise


@pytest.mark.stateful
@pytest.mark.creates_calls
@pytest.mark.requirements(*REQUIREMENTS)
def test_linked_create_get_delete_sequences_follow_the_contract(calls):
    reason = calls.skip_reason()
    if reason:
        pytest.skip(reason)
    try:
        LinkedCalls.run(settings=properties.stateful_settings(RUN))
    except hypothesis.errors.Unsatisfiable:
        if safe_creates.generated_calls_allowed(RUN, "stateful"):
            raise
        pytest.skip("the call budget for linked sequences is spent (--max-calls)")
    except hypothesis.errors.Flaky as flaky:
        # A sequence against a live server cannot be replayed exactly: what it found the first time stands.
        if LinkedCalls.first_finding is None:
            raise
        raise LinkedCalls.first_finding from flaky
