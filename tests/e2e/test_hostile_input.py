"""Hostile input, through HTTP against the running bot: nothing lost, nothing leaked, every
request answered with a 4xx or Slack's ack, never a 5xx or a traceback.

One section per class of problem; the numbers are the issue's.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.logs import SecretScrubber, TextFormatter
from bot.testing import slack_payloads
from bot.testing.intercom import Reply, error_list
from bot.testing.local_stack import (
    CHANNEL_ID,
    INTERCOM_TOKEN,
    SLACK_SIGNING_SECRET,
    HttpAnswer,
    LocalStack,
)
from bot.testing.signing import slack_form_body, slack_signature_headers

from .helpers import (
    click_payload,
    current_message,
    dumps,
    fresh_payload,
    payload_with_text_everywhere,
    post_webhook_raw,
    refund_state,
    send_and_wait_posted,
    send_ok,
    step_id_of,
    text_state,
    wait_posted,
    wait_thread_reply,
    wait_updated,
)

LONE = "\ud83d"  # half an emoji: what JavaScript's string truncation leaves


async def post_raw(
    stack: LocalStack, path: str, body: bytes, headers: dict[str, str]
) -> HttpAnswer:
    return await stack.post(path, body, headers)


async def post_signed_slack(stack: LocalStack, body: str) -> HttpAnswer:
    return await stack.post_to_slack_events(body)


# --- 1. Text the store could not encode ---------------------------------------------------


async def test_a_lone_surrogate_in_every_text_field_is_stored_and_posted(stack: LocalStack) -> None:
    payload = payload_with_text_everywhere(stack, LONE)

    posted = await send_and_wait_posted(stack, payload)

    text = dumps(posted["blocks"])
    assert "Refund \ufffd" in text
    assert "Approve \ufffd?" in text
    assert "Support \ufffd" in text
    assert "Jane \ufffd" in text


async def test_a_lone_surrogate_typed_in_slack_is_stored_and_sent(stack: LocalStack) -> None:
    payload = fresh_payload(stack)
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id_of(payload))
    state = refund_state() | text_state(2, f"Sorry {LONE}")
    state["hitl.comment"] = {"hitl.comment.value": {"type": "plain_text_input", "value": LONE}}

    submitted = await stack.submit(view, state, user_id=f"U0ALICE{LONE}")
    (callback,) = await stack.intercom.wait_for_callbacks(1)

    assert submitted.status == 200, submitted.body
    assert callback.body["attribute_values"][2]["value"] == "Sorry \ufffd"


# --- 2. A callback URL the HTTP client would refuse --------------------------------------

CONTROL_CHARACTER_URLS = {
    "trailing-space": "{url} ",
    "leading-space": " {url}",
    "tab": "{url}\t",
    "crlf": "{url}\r\nX-Injected: 1",
    "nul": "{url}\x00",
}


@pytest.mark.parametrize("template", CONTROL_CHARACTER_URLS.values(), ids=CONTROL_CHARACTER_URLS)
async def test_a_callback_url_with_control_characters_is_a_notice_never_called(
    stack: LocalStack, template: str
) -> None:
    payload = fresh_payload(stack)
    item = payload["data"]["item"]
    item["callback_url"] = template.format(url=item["callback_url"])

    await send_ok(stack, payload)
    posted = await wait_posted(stack, step_id_of(payload))
    await asyncio.sleep(0.3)  # a retry loop would have called by now

    assert "can't be answered from Slack" in dumps(posted["blocks"])
    assert "control characters" in dumps(posted["blocks"])
    assert stack.intercom.callbacks == []
    jobs = await stack.store.list_jobs(step_id_of(payload))
    assert "deliver" not in [job.kind for job in jobs]


# --- 4. Slow and half-open connections ------------------------------------------------------


@pytest.fixture
async def tight(sqlite_url: str) -> AsyncIterator[LocalStack]:
    overrides = {"hitl_max_connections": 30, "hitl_header_timeout": 1.0, "hitl_body_timeout": 1.0}
    async with LocalStack(sqlite_url, settings_overrides=overrides) as stack:
        yield stack


async def _half_open(port: int, count: int) -> list[asyncio.StreamWriter]:
    """`count` connections that send part of a request's headers and then nothing."""
    writers = []
    for _ in range(count):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /intercom/webhook HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        writers.append(writer)
    return writers


def _port(stack: LocalStack) -> int:
    return int(stack.url.rsplit(":", 1)[1])


async def _exchange(stack: LocalStack, request: bytes, seconds: float) -> bytes:
    """Sends raw `request` bytes on a new connection; the first bytes of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(stack))
    writer.write(request)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(200), seconds)
    finally:
        writer.close()


async def test_connections_that_never_finish_their_headers_do_not_stall_anyone(
    tight: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    held = await _half_open(_port(tight), 60)  # twice the cap
    try:
        started = time.monotonic()
        async with tight.session.get(f"{tight.url}/healthz") as response:
            health = response.status
        health_took = time.monotonic() - started
        webhook = await tight.send_webhook(fresh_payload(tight))
    finally:
        for writer in held:
            writer.close()

    assert health == 200
    assert health_took < 0.5
    assert webhook.status == 200
    cap_lines = [r for r in caplog.records if "connection cap reached" in r.getMessage()]
    assert 1 <= len(cap_lines) <= 3  # at most one a second, however many were closed


async def test_at_the_cap_a_request_in_progress_is_never_the_one_closed(
    tight: LocalStack,
) -> None:
    # 30 webhooks (the cap) whose handlers are running, each waiting for the rest of
    # its body: none is idle, so a 31st connection is refused rather than one of them cut.
    held = []
    for _ in range(30):
        reader, writer = await asyncio.open_connection("127.0.0.1", _port(tight))
        writer.write(
            b"POST /intercom/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"topic"'
        )
        await writer.drain()
        held.append((reader, writer))
    try:
        await asyncio.sleep(0.3)  # every handler has started and waits in read_body
        refused = await _exchange(tight, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5)
        answers = [await asyncio.wait_for(reader.read(200), 5) for reader, _ in held]
    finally:
        for _, writer in held:
            writer.close()

    assert refused.startswith(b"HTTP/1.1 503")
    # Each held request got its own answer (its body never came): none was closed.
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers), answers[:3]


async def test_headers_not_finished_in_time_close_the_connection(tight: LocalStack) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(tight))
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    await writer.drain()

    started = time.monotonic()
    rest = await asyncio.wait_for(reader.read(), 5)
    took = time.monotonic() - started
    writer.close()

    assert rest == b""
    assert 0.5 < took < 3


async def test_a_body_that_never_arrives_is_answered_408(tight: LocalStack) -> None:
    answer = await _exchange(
        tight,
        b"POST /intercom/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"topic"',
        5,
    )

    assert answer.startswith(b"HTTP/1.1 408")


async def test_the_descriptor_limit_is_raised_at_start() -> None:
    script = (
        "import resource\n"
        "from bot.listener import raise_descriptor_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "print(raise_descriptor_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    held, soft, hard = (int(x) for x in out.split())

    assert held == soft == hard
    assert hard > 256


# --- 5. Unauthenticated bodies cost nothing to refuse ---------------------------------------


async def test_an_unsigned_slack_request_is_refused_before_its_body_is_read(
    stack: LocalStack,
) -> None:
    """Headers promise 1 MiB that never comes: the 401 does not wait for it."""
    answer = await _exchange(
        stack,
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1048576\r\n\r\n",
        2,
    )

    assert answer.startswith(b"HTTP/1.1 401")


async def test_a_signed_looking_slack_body_over_the_limit_is_413_unread(stack: LocalStack) -> None:
    headers = slack_signature_headers("x", SLACK_SIGNING_SECRET)
    answer = await post_raw(stack, "/slack/events", b"x" * (1024 * 1024 + 1), headers)

    assert answer.status == 413


# --- 6. Nothing an outsider sends causes a 500 ---------------------------------------------


def _stamped(timestamp: str) -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=ab"}


UNSIGNED_OR_BROKEN: dict[str, tuple[bytes, dict[str, str]]] = {
    "timestamp-not-a-number": (b"payload=%7B%7D", _stamped("soon")),
    "timestamp-huge": (b"payload=%7B%7D", _stamped("9" * 40)),
    "timestamp-negative": (b"payload=%7B%7D", _stamped("-5")),
    "unsigned-json-array": (b"[1, 2]", {"Content-Type": "application/json"}),
    "unsigned-payload-array": (b"payload=%5B%5D", {}),
    "unsigned-invalid-utf8": (b"\xff\xfe", {}),
}  # fmt: skip


@pytest.mark.parametrize(("body", "headers"), UNSIGNED_OR_BROKEN.values(), ids=UNSIGNED_OR_BROKEN)
async def test_unsigned_or_broken_requests_are_401(
    stack: LocalStack, body: bytes, headers: dict[str, str]
) -> None:
    answer = await post_raw(stack, "/slack/events", body, headers)

    assert answer.status == 401


SIGNED_MALFORMED: dict[str, str] = {
    "payload-array": "payload=%5B%5D",
    "payload-not-json": "payload=%7Bnope",
    "invalid-utf8-in-json": urlencode({"payload": '{"type": "block_actions"}'}) + "%FF",
    "deep-nesting": urlencode({"payload": "[" * 50_000 + "]" * 50_000}),
    "view-state-a-list": slack_form_body(
        {"type": "view_submission", "user": {"id": "U0A"}, "view": {"type": "modal", "state": []}}
    ),
    "view-values-of-lists": slack_form_body(
        {
            "type": "view_submission",
            "user": {"id": "U0A"},
            "view": {"type": "modal", "state": {"values": {"b": [1]}}},
        }
    ),
    "user-a-string": slack_form_body(
        {"type": "block_actions", "user": "U0A", "trigger_id": "t", "actions": [{"action_id": "x"}]}
    ),
    "actions-of-strings": slack_form_body(
        {"type": "block_actions", "user": {"id": "U0A"}, "trigger_id": "t", "actions": ["x"]}
    ),
    "view-without-type": slack_form_body(
        {"type": "view_submission", "user": {"id": "U0A"}, "view": {"callback_id": "hitl.submit"}}
    ),
    "event-without-event": json.dumps({"type": "event_callback", "team_id": "T0001"}),
    "command-without-user": urlencode({"command": "/hitl", "team_id": "T0001"}),
}  # fmt: skip


@pytest.mark.parametrize("body", SIGNED_MALFORMED.values(), ids=SIGNED_MALFORMED)
async def test_signed_malformed_payloads_are_400_with_a_log_line_and_no_traceback(
    stack: LocalStack, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await post_signed_slack(stack, body)

    assert answer.status == 400, answer.body
    assert any("slack" in r.getMessage() and "refused" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_signed_webhook_of_100000_nested_arrays_is_400(stack: LocalStack) -> None:
    body = b"[" * 100_000 + b"]" * 100_000

    answer = await stack.send_webhook(body)

    assert answer.status == 400
    assert "nested" in answer.body["error"]


# --- 7. No secret reaches Slack --------------------------------------------------------------


async def test_an_intercom_error_echoing_the_token_never_reaches_slack(stack: LocalStack) -> None:
    payload = fresh_payload(stack)
    echo = error_list("forbidden", f"Bad header Authorization: Bearer {INTERCOM_TOKEN}")
    stack.intercom.script(step_id_of(payload), Reply(403, echo))
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id_of(payload))

    await stack.submit(view, refund_state())
    update = await wait_updated(stack, step_id_of(payload), "Not delivered")
    (trail,) = await wait_thread_reply(stack, step_id_of(payload), "not delivered")

    sent = dumps([call.params for call in stack.slack.calls])
    assert INTERCOM_TOKEN not in sent
    assert "[redacted]" in dumps(update["blocks"])
    assert "[redacted]" in trail["text"]
    record = await stack.store.get(step_id_of(payload))
    assert record is not None
    assert INTERCOM_TOKEN not in (record.outcome_detail or "")


# --- 8. Log lines are one line each and never carry an unsigned body -------------------------


async def test_log_lines_stay_one_line_and_unsigned_bodies_are_never_logged(
    stack: LocalStack,
) -> None:
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(TextFormatter())
    handler.addFilter(SecretScrubber([]))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.DEBUG)  # what any library logs about a request, at any level
    forged = "\n00:00:00 ERROR   bot: forged line\n"
    try:
        # A form body that parses (raw newlines and all), so nothing stops before the
        # signature check: ~900 KB.
        unsigned = ("payload=%7B%7D&x=" + forged * 25_000).encode()
        await post_raw(stack, "/slack/events", unsigned, {})
        await post_raw(
            stack,
            "/slack/events",
            unsigned,
            slack_signature_headers("other", SLACK_SIGNING_SECRET),
        )
        await post_webhook_raw(stack, forged.encode(), {"X-Hub-Signature": forged.strip()})
        await stack.send_webhook(forged.encode())
    finally:
        root.removeHandler(handler)
        root.setLevel(level)

    written = lines.getvalue().splitlines()
    assert written, "the refusals were logged"
    assert all("forged line" not in line or "\\n" in line for line in written)
    assert not any(line.startswith("00:00:00 ERROR   bot: forged") for line in written)
    assert max(len(line) for line in written) <= 16_500
    assert "forged line" * 2 not in lines.getvalue()


# --- 9. Who may answer is who sees ------------------------------------------------------------


@pytest.fixture
async def restricted(sqlite_url: str, tmp_path: Any) -> AsyncIterator[LocalStack]:
    routes = tmp_path / "routes.yml"
    routes.write_text(
        "routes:\n  - procedure: 'refund*'\n    allowed_users: [U0ALICE]\n", encoding="utf-8"
    )
    overrides = {"hitl_routes_file": str(routes)}
    async with LocalStack(sqlite_url, settings_overrides=overrides) as stack:
        yield stack


async def test_hitl_lists_only_the_steps_the_viewer_may_answer(restricted: LocalStack) -> None:
    refund = fresh_payload(restricted, "refund_approval")
    account = fresh_payload(restricted, "single_boolean")
    await send_and_wait_posted(restricted, refund)
    await send_and_wait_posted(restricted, account)

    alice = dumps((await restricted.command(user_id="U0ALICE")).body)
    bob = dumps((await restricted.command(user_id="U0BOB")).body)

    assert "Refund over $40" in alice
    assert "Close account" in alice
    assert "Close account" in bob
    assert "Refund over $40" not in bob
    assert step_id_of(refund) not in bob
    assert "1 step waiting for other teams" in bob
    assert "other teams" not in alice


async def test_the_home_tab_lists_only_the_steps_the_viewer_may_answer(
    restricted: LocalStack,
) -> None:
    refund = fresh_payload(restricted, "refund_approval")
    await send_and_wait_posted(restricted, refund)

    await restricted.open_home(user_id="U0BOB")
    (home,) = await restricted.slack.wait_for("views.publish")

    text = dumps(home["view"])
    assert "Refund over $40" not in text
    assert step_id_of(refund) not in text
    assert "Nothing waiting for you" in text
    assert "1 step waiting for other teams" in text


async def test_with_everyone_restricted_an_outsider_sees_no_step(sqlite_url: str) -> None:
    overrides = {"slack_allowed_users": ["U0ALICE"]}
    async with LocalStack(sqlite_url, settings_overrides=overrides) as stack:
        await send_and_wait_posted(stack, fresh_payload(stack))

        bob = dumps((await stack.command(user_id="U0BOB")).body)
        alice = dumps((await stack.command(user_id="U0ALICE")).body)

    assert "Refund over $40" not in bob
    assert "1 step waiting for other teams" in bob
    assert "Refund over $40" in alice


# --- 10. Only the installed workspace acts ---------------------------------------------------


async def _outsider_click(stack: LocalStack) -> tuple[dict[str, Any], dict[str, Any]]:
    """A posted single yes/no step, and a Yes click on it by someone to be made foreign."""
    payload = fresh_payload(stack, "single_boolean")
    await send_and_wait_posted(stack, payload)
    return payload, click_payload(stack, step_id_of(payload), user_id="U0OUTSIDER")


async def test_a_click_from_another_workspace_is_refused(stack: LocalStack) -> None:
    payload, click = await _outsider_click(stack)
    click["user"]["team_id"] = "T0OTHER"
    click["team"] = {"id": "T0OTHER", "domain": "other"}

    answer = await post_signed_slack(stack, slack_form_body(click))

    assert answer.status == 403
    record = await stack.store.get(step_id_of(payload))
    assert record is not None
    assert record.state.is_open
    assert stack.intercom.callbacks == []


async def test_a_click_from_another_enterprise_is_refused(stack: LocalStack) -> None:
    _, click = await _outsider_click(stack)
    stack.slack.installation_enterprise = "E0OURS"
    click["enterprise"] = {"id": "E0OTHER", "name": "other"}

    answer = await post_signed_slack(stack, slack_form_body(click))

    assert answer.status == 403
    assert stack.intercom.callbacks == []


async def test_a_command_from_another_workspace_is_told_why(stack: LocalStack) -> None:
    fields = slack_payloads.slash_command(
        "test", user_id="U0OUTSIDER", channel_id=CHANNEL_ID, response_url="https://x.invalid"
    )
    fields["team_id"] = "T0OTHER"

    answer = await post_signed_slack(stack, urlencode(fields))

    assert answer.status == 200
    assert "installed in" in answer.body["text"]
    assert stack.slack.calls_to("chat.postMessage") == []


# --- 11. /hitl test cannot flood a channel -----------------------------------------------------


async def test_forty_hitl_tests_in_half_a_second_post_three(stack: LocalStack) -> None:
    answers = await asyncio.gather(*(stack.command("test") for _ in range(40)))
    await stack.slack.wait_for("chat.postMessage", count=3)
    await asyncio.sleep(0.5)

    texts = [a.body["text"] for a in answers]
    assert sum("on its way" in t for t in texts) == 3
    assert sum("in the last minute" in t for t in texts) == 37
    assert len(stack.slack.calls_to("chat.postMessage")) == 3
    other = await stack.command("test", user_id="U0BOB")
    assert "on its way" in other.body["text"]


# --- 12. Nothing from Intercom spoofs how text reads -------------------------------------------

SPOOFS = "\u202egnp.exe\u202c \u2066x\u2069 a\u200bb\u200d\ufeff\u200e\u200f\u061c"
INVISIBLE = (
    "\u202e",
    "\u202c",
    "\u2066",
    "\u2069",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\u200e",
    "\u061c",
)


async def test_bidirectional_and_zero_width_characters_never_reach_slack(stack: LocalStack) -> None:
    payload = payload_with_text_everywhere(stack, SPOOFS)
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id_of(payload))
    await stack.submit(view, refund_state())
    await wait_updated(stack, step_id_of(payload), "Answered by")
    await wait_thread_reply(stack, step_id_of(payload), "Answered by")

    calls = [call.params for call in stack.slack.calls]
    everything = dumps([calls, current_message(stack, step_id_of(payload))])
    assert "gnp.exe" in everything
    for character in INVISIBLE:
        assert character not in everything, repr(character)
