"""The Router alone: each matcher on Intercom's published fields, their combination, order."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain import Step
from bot.routing import Route, Router
from bot.slack.access import AnswerAccess

DEFAULT_ACCESS = AnswerAccess()


def _step(**fields: Any) -> Step:
    values: dict[str, Any] = {
        "step_id": "s1",
        "conversation_id": "1",
        "callback_url": "https://api.intercom.io/procedures/1/collect_agent_input",
        "attributes": (),
    }
    values.update(fields)
    return Step.model_validate(values)


def _route(**fields: Any) -> Route:
    return Route.model_validate({"channel": "C0ROUTED", **fields})


TEAM = {"type": "team", "id": "814865", "name": "Customer Support"}
ADMIN = {"type": "admin", "id": "4400112", "name": "Priya Raman"}

MATCHES: dict[str, tuple[dict[str, Any], dict[str, Any], bool]] = {
    "procedure-glob": ({"procedure": "refund*"}, {"procedure_name": "Refund Request"}, True),
    "procedure-case": ({"procedure": "REFUND REQUEST"}, {"procedure_name": "refund request"}, True),
    "procedure-other": ({"procedure": "refund*"}, {"procedure_name": "Close account"}, False),
    "procedure-none": ({"procedure": "*"}, {"procedure_name": None}, False),
    "team-name-glob": ({"team": "customer*"}, {"assign_to": TEAM}, True),
    "team-id": ({"team": "814865"}, {"assign_to": TEAM}, True),
    "team-id-is-exact": ({"team": "8148*"}, {"assign_to": TEAM}, False),
    "team-not-an-admin": ({"team": "Priya*"}, {"assign_to": ADMIN}, False),
    "team-unassigned": ({"team": "*"}, {"assign_to": None}, False),
    "admin-name-glob": ({"admin": "priya *"}, {"assign_to": ADMIN}, True),
    "admin-id": ({"admin": "4400112"}, {"assign_to": ADMIN}, True),
    "admin-not-a-team": ({"admin": "814865"}, {"assign_to": TEAM}, False),
    "priority-true": ({"priority": True}, {"priority": "priority"}, True),
    "priority-true-not": ({"priority": True}, {"priority": "not_priority"}, False),
    "priority-false": ({"priority": False}, {"priority": "not_priority"}, True),
    "priority-false-unknown": ({"priority": False}, {"priority": None}, True),
    "priority-false-not": ({"priority": False}, {"priority": "priority"}, False),
    "no-matcher": ({}, {}, True),
    "all-match": (
        {"procedure": "refund*", "team": "Customer Support", "priority": True},
        {"procedure_name": "Refund Request", "assign_to": TEAM, "priority": "priority"},
        True,
    ),
    "one-of-three-fails": (
        {"procedure": "refund*", "team": "Customer Support", "priority": True},
        {"procedure_name": "Refund Request", "assign_to": TEAM, "priority": "not_priority"},
        False,
    ),
}


@pytest.mark.parametrize(("route", "step", "matches"), MATCHES.values(), ids=MATCHES)
def test_route_matches_when_every_matcher_it_gives_matches(
    route: dict[str, Any], step: dict[str, Any], matches: bool
) -> None:
    assert _route(**route).matches(_step(**step)) is matches


def test_ids_given_as_numbers_in_yaml_are_text() -> None:
    assert _route(team=814865).team == "814865"


def _router(*routes: Route) -> Router:
    return Router(
        routes, default_channel="C0DEFAULT", default_mention=None, default_access=DEFAULT_ACCESS
    )


def test_first_matching_route_wins() -> None:
    router = _router(_route(priority=True, channel="C0FIRST"), _route(team="*", channel="C0SECOND"))

    step = _step(priority="priority", assign_to=TEAM)

    assert router.channel_for(step) == "C0FIRST"
    assert router.channel_for(_step(assign_to=TEAM)) == "C0SECOND"
    assert router.channel_for(_step()) == "C0DEFAULT"


def test_a_route_without_a_channel_keeps_the_default_channel_and_its_own_settings() -> None:
    router = _router(Route(team="*", mention="U0LEAD", allowed_users=("U0ALICE",)))
    step = _step(assign_to=TEAM)

    assert router.channel_for(step) == "C0DEFAULT"
    assert router.mention_for(step) == "<@U0LEAD>"
    assert router.access_for(step).restricted
    assert not router.access_for(_step()).restricted
