"""Signed Slack payloads of every kind the bot handles, mutated at random (wrong types,
missing keys, odd text): every one is answered below 500, and none leaves a traceback.

Deterministic (fixed seeds) and bounded: a few hundred requests, a few seconds.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.testing import slack_payloads
from bot.testing.local_stack import CHANNEL_ID, LocalStack
from bot.testing.signing import slack_form_body

from .helpers import click_payload, fresh_payload, refund_state, send_and_wait_posted, step_id_of

CASES_PER_KIND = 100
ODD_VALUES: list[Callable[[random.Random], Any]] = [
    lambda r: None,
    lambda r: r.randint(-(2**63), 2**63),
    lambda r: r.random() * 1e300,
    lambda r: r.choice([True, False]),
    lambda r: [],
    lambda r: [r.randint(0, 9), "x", None],
    lambda r: {},
    lambda r: {"id": 5, "value": []},
    lambda r: "",
    lambda r: "x" * r.choice([1, 300, 5000]),
    lambda r: "\ud83d lone \udc00",
    lambda r: "<!channel> \u202e\n\r\t\x00",
    lambda r: "hitl.open",
    lambda r: "hitl.options.99999999",
    lambda r: '{"step_id": 7}',
    lambda r: "1" * 30,
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `value` (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutate(payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    mutated = copy.deepcopy(payload)
    for _ in range(rng.randint(1, 3)):
        paths = _paths(mutated)
        if not paths:
            break
        path = rng.choice(paths)
        parent: Any = mutated
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        if isinstance(parent, dict) and rng.random() < 0.3:
            del parent[last]
        else:
            parent[last] = rng.choice(ODD_VALUES)(rng)
    return mutated


async def _bases(stack: LocalStack) -> dict[str, tuple[dict[str, Any], Callable[[Any], str]]]:
    """One valid payload of each kind, for real steps, and how Slack encodes it."""
    refund = fresh_payload(stack)
    boolean = fresh_payload(stack, "single_boolean")
    await send_and_wait_posted(stack, refund)
    await send_and_wait_posted(stack, boolean)
    view = await stack.open_form(step_id_of(refund))
    click = click_payload(stack, step_id_of(boolean))
    submission = slack_payloads.view_submission(view, refund_state(), user_id="U0ALICE")
    suggestion = slack_payloads.block_suggestion(
        view, "hitl.options.1", "hitl.attr.1", "dam", user_id="U0ALICE"
    )
    command = slack_payloads.slash_command(
        "stats", user_id="U0ALICE", channel_id=CHANNEL_ID, response_url="https://x.invalid"
    )
    home = slack_payloads.app_home_opened("U0ALICE")
    return {
        "block_actions": (click, slack_form_body),
        "view_submission": (submission, slack_form_body),
        "block_suggestion": (suggestion, slack_form_body),
        # A form field can carry a lone surrogate only as invalid UTF-8, percent-encoded.
        "slash_command": (
            command,
            lambda fields: urlencode(
                {k: str(v) for k, v in fields.items()}, errors="surrogatepass"
            ),
        ),
        "events": (home, json.dumps),
    }


@pytest.mark.parametrize("kind", ["block_actions", "view_submission", "block_suggestion",
                                  "slash_command", "events"])  # fmt: skip
async def test_mutated_signed_payloads_never_get_a_5xx_or_a_traceback(
    stack: LocalStack, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    base, encode = (await _bases(stack))[kind]
    rng = random.Random(f"hitl-fuzz-{kind}")
    statuses: dict[int, int] = {}

    for _ in range(CASES_PER_KIND):
        mutated = _mutate(base, rng)
        answer = await stack.post_to_slack_events(encode(mutated))
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        assert answer.status < 500, (answer.status, answer.body, mutated)

    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert tracebacks == [], [r.getMessage() for r in tracebacks]
    # Most mutations still reach a listener: the fuzz tests the listeners, not only the gate.
    assert statuses.get(200, 0) > CASES_PER_KIND // 4, statuses
