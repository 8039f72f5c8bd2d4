"""HITL_ROUTES_FILE: a step goes to its route's channel, with its mention and answerers.

Routes match Intercom's published fields: procedure_name, assign_to (team / admin) and
priority. The samples: refund_approval ("Refund over $40", priority, team Customer Support
814865), single_boolean ("Close account", unassigned), all_types ("Replacement order",
admin Priya Raman 4400112).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from bot.testing.local_stack import LocalStack

from .helpers import fresh_payload, send_and_wait_posted, step_id_of, wait_thread_reply

ROUTES = """
routes:
  - procedure: "refund*"
    priority: true
    channel: C0REFUNDS
    mention: U0LEAD
    allowed_users: [U0ALICE]
  - team: "customer support"
    channel: C0SUPPORT
  - admin: 4400112
    channel: C0PRIYA
  - procedure: "CLOSE ACCOUNT"
    channel: C0ACCOUNTS
"""


@pytest.fixture
async def routed(sqlite_url: str, tmp_path: Path) -> AsyncIterator[LocalStack]:
    routes = tmp_path / "routes.yml"
    routes.write_text(ROUTES, encoding="utf-8")
    overrides = {"hitl_routes_file": str(routes), "hitl_remind_after": 0.4}
    async with LocalStack(sqlite_url, settings_overrides=overrides) as stack:
        yield stack


async def test_a_priority_step_matching_the_procedure_glob_goes_to_its_channel(
    routed: LocalStack,
) -> None:
    posted = await send_and_wait_posted(routed, fresh_payload(routed, "refund_approval"))
    assert posted["channel"] == "C0REFUNDS"


async def test_every_matcher_of_a_route_must_match(routed: LocalStack) -> None:
    """Not a priority: the refund route is passed over for the team's route below it."""
    payload = fresh_payload(routed, "refund_approval", priority="not_priority")
    posted = await send_and_wait_posted(routed, payload)
    assert posted["channel"] == "C0SUPPORT"


async def test_a_team_matches_by_name_and_an_admin_by_id(routed: LocalStack) -> None:
    renamed = {"type": "admin", "id": "4400112", "name": "Priya R."}
    by_admin = await send_and_wait_posted(
        routed, fresh_payload(routed, "all_types", assign_to=renamed)
    )
    by_team = await send_and_wait_posted(
        routed,
        fresh_payload(
            routed,
            "all_types",
            assign_to={"type": "team", "id": "1", "name": "Customer Support"},
        ),
    )
    assert (by_admin["channel"], by_team["channel"]) == ("C0PRIYA", "C0SUPPORT")


async def test_a_team_route_does_not_match_an_admin_of_that_name(routed: LocalStack) -> None:
    admin = {"type": "admin", "id": "7", "name": "Customer Support"}
    posted = await send_and_wait_posted(routed, fresh_payload(routed, "all_types", assign_to=admin))
    assert posted["channel"] == "C0HITLTEST"


async def test_procedure_globs_ignore_case(routed: LocalStack) -> None:
    posted = await send_and_wait_posted(routed, fresh_payload(routed, "single_boolean"))
    assert posted["channel"] == "C0ACCOUNTS"


async def test_an_unmatched_step_goes_to_the_default_channel(routed: LocalStack) -> None:
    payload = fresh_payload(routed, "single_boolean", procedure_name="Something else")
    posted = await send_and_wait_posted(routed, payload)
    assert posted["channel"] == "C0HITLTEST"


async def test_the_first_matching_route_wins(routed: LocalStack) -> None:
    """Intercom's own example (a priority "Refund Request" for Customer Support) matches
    the refund route and the team's route: the refund route comes first."""
    posted = await send_and_wait_posted(routed, fresh_payload(routed, "documented_example"))
    assert posted["channel"] == "C0REFUNDS"


async def test_reminders_mention_the_routes_people(routed: LocalStack) -> None:
    payload = fresh_payload(routed, "refund_approval", expires_at=None)
    await send_and_wait_posted(routed, payload)
    (reminder,) = await wait_thread_reply(routed, step_id_of(payload), "Still waiting")
    assert "<@U0LEAD>" in reminder["text"]


async def test_only_the_routes_answerers_may_answer_its_steps(routed: LocalStack) -> None:
    refund = fresh_payload(routed, "refund_approval")
    await send_and_wait_posted(routed, refund)
    account = fresh_payload(routed, "single_boolean")
    await send_and_wait_posted(routed, account)

    await routed.click(step_id_of(refund), "hitl.open", user_id="U0BOB", response_key="bob")
    (refused,) = await routed.slack.wait_for_response("bob")
    assert "can't answer" in refused["text"]
    await routed.open_form(step_id_of(refund), user_id="U0ALICE")
    # The other route sets no answerers: anyone may answer its steps.
    await routed.open_form(step_id_of(account), user_id="U0BOB")
    assert len(routed.slack.calls_to("views.open")) == 2


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("routes: [{priority: maybe}]", "routes.0.priority"),
        ("routes: [{team: [a, b]}]", "routes.0.team"),
        ("routes: [{procedure: x, channel: general}]", "Slack ID"),
        ("routes: []", "routes"),
        ("routes: [{procedure: x, channel: C1, colour: red}]", "colour"),
        ("routes: [", "not valid YAML"),
    ],
)
def test_a_bad_routes_file_is_refused_at_start_with_a_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, problem: str
) -> None:
    routes = tmp_path / "routes.yml"
    routes.write_text(content, encoding="utf-8")
    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-routes-test",
        "SLACK_SIGNING_SECRET": "routes-signing-secret",
        "SLACK_CHANNEL_ID": "C0DEFAULT",
        "INTERCOM_ACCESS_TOKEN": "routes-intercom-token",
        "INTERCOM_CLIENT_SECRET": "routes-client-secret",
        "HITL_ROUTES_FILE": str(routes),
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert any(
        line.startswith("HITL_ROUTES_FILE:") and problem in line for line in raised.value.lines
    )


async def test_the_server_exits_non_zero_naming_the_routes_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    env = {
        "PATH": "/usr/bin:/bin",
        "SLACK_BOT_TOKEN": "xoxb-routes-test",
        "SLACK_SIGNING_SECRET": "routes-signing-secret",
        "SLACK_CHANNEL_ID": "C0DEFAULT",
        "INTERCOM_ACCESS_TOKEN": "routes-intercom-token",
        "INTERCOM_CLIENT_SECRET": "routes-client-secret",
        "HITL_ROUTES_FILE": str(missing),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'hitl.db'}",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert "HITL_ROUTES_FILE" in err.decode()
    assert "cannot read" in err.decode()
