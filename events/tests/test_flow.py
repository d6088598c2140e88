"""The lifecycle table (events/flow.py, no database)."""

from __future__ import annotations

import pytest

from events import flow


@pytest.mark.parametrize("state", list(flow.STATES))
def test_every_state_is_reached_by_its_path(state):
    assert flow.states_along(flow.PATH_TO[state])[-1] == state


def test_finished_events_allow_nothing_and_open_ones_can_be_merged():
    for state in flow.TERMINAL_STATES:
        assert flow.actions_from(state) == []
    for state in flow.OPEN_STATES:
        assert "merge" in flow.actions_from(state)


def test_resume_goes_back_where_the_event_was_suspended():
    assert flow.states_along(("verify", "register", "suspend", "resume")) == [
        "reported", "verified", "registered", "suspended", "registered",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="not possible"):
        flow.states_along(("verify", "handle"))


def test_actions_by_scope():
    assert flow.actions_from("dispatched", frozenset({"events:handle"})) == ["handle", "return"]
    assert flow.actions_from("dispatched", frozenset({"events:verify"})) == []
    assert flow.actions_from("handled", frozenset({"events:verify"})) == ["check", "return"]
    assert flow.actions_from("reported", frozenset({"events:read", "events:write"})) == []


def test_every_open_state_that_waits_has_a_step():
    assert set(flow.STEP_OF_STATE) == flow.OPEN_STATES - {"suspended"}
    assert set(flow.STEP_OF_STATE.values()) == set(flow.STEPS)
