"""`python -m bot demo`: plays the sample steps through the real bot on SQLite against the
bundled loopback fakes of Slack and Intercom, printing each stage. Needs no credentials.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.samples import HITL_SAMPLES
from bot.slack import ids
from bot.slack.kit import block_kit_builder_url
from bot.testing.deliveries import fresh_delivery
from bot.testing.local_stack import CHANNEL_ID, LocalStack

# What the scripted teammate types into each kind of form element.
_SCRIPTED_TEXT = "Approved in the demo"
# The demo's answers go at once; this part shows the window (HITL_UNDO_SECONDS).
_UNDO_WINDOW = {"hitl_undo_seconds": 30.0}
_SCRIPTED_DATE = "2026-12-01"
_SCRIPTED_DATETIME = 1796112000


def scripted_values(view: dict[str, Any]) -> dict[str, Any]:
    """Slack's `view.state.values` for a teammate who fills every input with a sane value."""
    values: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block["element"]
        kind = element["type"]
        state: dict[str, Any] = {"type": kind}
        if kind in ("radio_buttons", "static_select"):
            state["selected_option"] = element["options"][0]
        elif kind == "external_select":
            state["selected_option"] = {
                "text": {"type": "plain_text", "text": "first"},
                "value": "0",
            }
        elif kind == "number_input":
            state["value"] = "12.5" if element.get("is_decimal_allowed") else "2"
        elif kind == "datepicker":
            state["selected_date"] = _SCRIPTED_DATE
        elif kind == "datetimepicker":
            state["selected_date_time"] = _SCRIPTED_DATETIME
        else:
            state["value"] = _SCRIPTED_TEXT
        values[block["block_id"]] = {element["action_id"]: state}
    return values


def _context_lines(blocks: list[dict[str, Any]]) -> list[str]:
    """What the channel message tells a teammate, a line per block, as mrkdwn."""
    lines = []
    for block in blocks:
        if block["type"] in ("header", "section"):
            text = block["text"]["text"]
        elif block["type"] == "context":
            text = " ".join(e["text"] for e in block["elements"])
        else:
            continue
        lines.append(text.replace("\n", " ⏎ ")[:160])
    return lines


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def _play(stack: LocalStack, name: str) -> None:
    # A step id of its own: two samples share Intercom's example id.
    payload = fresh_delivery(name, callback_origin=stack.intercom.origin)
    item = payload["data"]["item"]
    step_id = item["step_id"]
    print(f"\n=== {name}: {item['procedure_name']} ({step_id})")

    sent = time.perf_counter()
    answer = await stack.send_webhook(payload)
    acked = time.perf_counter()
    print(f"1. webhook      → {answer.status} in {_ms(acked - sent)}: {json.dumps(answer.body)}")
    if answer.status != 200:
        raise SystemExit(f"the bot refused the sample webhook: {answer.body}")

    posted = await stack.slack.wait_for(
        "chat.postMessage", predicate=lambda p: step_id in json.dumps(p.get("metadata"))
    )
    message = posted[-1]
    print(f"2. Slack post   → channel {message['channel']} after {_ms(time.perf_counter() - sent)}")
    for line in _context_lines(message["blocks"]):
        print(f"   {line}")
    print(f"   message preview: {block_kit_builder_url({'blocks': message['blocks']})}")

    updates_before = len(stack.slack.calls_to("chat.update"))
    answered_at = time.perf_counter()
    record = await stack.store.get(step_id)
    assert record is not None
    if record.step.single_boolean:
        print("3. answer       → U0DEMO clicks the one-click 'Yes' button")
        await stack.click(step_id, "hitl.answer.yes", user_id="U0DEMO")
    else:
        view = await stack.open_form(step_id, user_id="U0DEMO")
        print(f"3. form opened  → {len(view['blocks'])} blocks")
        print(f"   form preview: {block_kit_builder_url(view)}")
        answered_at = time.perf_counter()
        submitted = await stack.submit(view, scripted_values(view), user_id="U0DEMO")
        print(f"   U0DEMO submits the form → {submitted.status}")
        if submitted.status != 200 or submitted.body:
            raise SystemExit(f"the form was refused: {submitted.body}")

    callbacks = await stack.intercom.wait_for_callbacks(1, status=200)
    callback = next(c for c in callbacks if c.step_id == step_id)
    took = _ms(time.perf_counter() - answered_at)
    print(f"4. callback     → Intercom answered {callback.status} after {took}")
    print(f"   body: {json.dumps(callback.body)}")

    updated = await stack.slack.wait_for(
        "chat.update",
        count=updates_before + 1,
        predicate=lambda p: "Answered by" in json.dumps(p.get("blocks")),
    )
    final = updated[-1]
    print(f"5. message      → updated: {final['text']}")
    print(f"   final preview: {block_kit_builder_url({'blocks': final['blocks']})}")
    stack.intercom.callbacks.clear()


async def _stored_as_posted(stack: LocalStack, step_id: str) -> None:
    """Until the store knows where the step's message is (its buttons need it)."""
    for _ in range(500):
        record = await stack.store.get(step_id)
        if record is not None and record.message_ts is not None:
            return
        await asyncio.sleep(0.01)
    raise SystemExit(f"step {step_id} was never posted")


async def _working(stack: LocalStack) -> None:
    """I'm on it, then precedent: a second step of a procedure already answered above."""
    print("\n=== working a step")
    payload = fresh_delivery("single_boolean", callback_origin=stack.intercom.origin)
    step_id = payload["data"]["item"]["step_id"]
    await stack.send_webhook(payload)
    (posted,) = await stack.slack.wait_for(
        "chat.postMessage", predicate=lambda p: step_id in json.dumps(p.get("metadata"))
    )
    print(f"precedent on the card: {block_kit_builder_url({'blocks': posted['blocks']})}")
    await _stored_as_posted(stack, step_id)
    await stack.click(step_id, ids.CLAIM, user_id="U0DEMO")
    claimed = await stack.slack.wait_for(
        "chat.update", predicate=lambda p: "is on it since" in json.dumps(p.get("blocks"))
    )
    print(f"U0DEMO is on it: {block_kit_builder_url({'blocks': claimed[-1]['blocks']})}")


async def _undo(database: Path) -> None:
    """The undo window: an answer waiting to go, with Undo, then taken back."""
    async with LocalStack(f"sqlite:///{database}", settings_overrides=_UNDO_WINDOW) as stack:
        payload = fresh_delivery("single_boolean", callback_origin=stack.intercom.origin)
        step_id = payload["data"]["item"]["step_id"]
        await stack.send_webhook(payload)
        await _stored_as_posted(stack, step_id)
        await stack.click(step_id, ids.YES, user_id="U0DEMO")
        waiting = await stack.slack.wait_for(
            "chat.update", predicate=lambda p: ids.UNDO in json.dumps(p.get("blocks"))
        )
        print(f"waiting out the window: {block_kit_builder_url({'blocks': waiting[-1]['blocks']})}")
        await stack.click(step_id, ids.UNDO, user_id="U0DEMO")
        await stack.slack.wait_for(
            "chat.update", predicate=lambda p: ids.CLAIM in json.dumps(p.get("blocks"))
        )
        print("U0DEMO took the answer back: the step is open again, nothing went to Intercom")


async def _demo() -> None:
    with tempfile.TemporaryDirectory(prefix="hitl-demo-") as folder:
        database = Path(folder) / "hitl.db"
        async with LocalStack(f"sqlite:///{database}") as stack:
            print("intercom-hitl-slack demo: the real bot on SQLite against local fakes")
            print(f"bot      {stack.url}  (POST /intercom/webhook, POST /slack/events)")
            print(f"slack    {stack.slack.url}  (fake Web API, channel {CHANNEL_ID})")
            print(f"intercom {stack.intercom.origin}  (fake callback endpoint)")
            print(f"database {database}")
            for name in HITL_SAMPLES:
                await _play(stack, name)
            await stack.open_home(user_id="U0DEMO")
            (home,) = await stack.slack.wait_for("views.publish")
            print(f"\nHome tab of U0DEMO: {block_kit_builder_url(home['view'])}")
            stats = await stack.command("stats")
            if isinstance(stats.body, dict):
                stats_blocks = {"blocks": stats.body.get("blocks", [])}
                print(f"/hitl stats: {block_kit_builder_url(stats_blocks)}")
            await _working(stack)
            pending = await stack.command()
            listed = pending.body.get("text") if isinstance(pending.body, dict) else pending.body
            print(f"\n/hitl → {listed}")
        await _undo(database)
    print("\nAll sample steps went round the loop. Next: `make test`, then see README → Deploy.")


def run_demo() -> int:
    asyncio.run(_demo())
    return 0
