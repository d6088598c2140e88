"""The vocabularies /api/v1/event-categories gives beside the classification (the web
panels' filters name states and sources as the server does)."""

from __future__ import annotations

from events import flow
from events.models import EventSource


def test_categories_list_names_steps_states_and_sources(api, seed_categories):
    body = api.get("/api/v1/event-categories").json()
    assert [s["state"] for s in body["states"]] == list(flow.STATES)
    assert {s["state"]: s["name"] for s in body["states"]}["dispatched"] == "已派遣"
    assert {s["state"] for s in body["states"] if not s["open"]} == {"closed", "invalid", "merged"}
    assert [s["source"] for s in body["sources"]] == list(EventSource.values)
    assert all(s["name"] for s in body["sources"])
    assert [s["step"] for s in body["steps"]] == list(flow.STEPS)
    assert body["results"]  # the classification itself is still there
