"""The round trip on the refund sample: webhook → message → form → callback → update."""

from __future__ import annotations

from bot.samples import load_sample
from bot.testing.local_stack import LocalStack
from tests.transports import over_both_transports


@over_both_transports
async def test_refund_round_trip(stack: LocalStack) -> None:
    payload = stack.hitl_payload(load_sample("refund_approval"))
    step_id = payload["data"]["item"]["step_id"]
    answer = await stack.send_webhook(payload)
    assert answer.status == 200, answer.body
    posted = await stack.slack.wait_for("chat.postMessage")
    assert posted[0]["channel"] == "C0HITLTEST"
    view = await stack.open_form(step_id)
    values = {
        "hitl.attr.0": {
            "hitl.value.0": {"type": "radio_buttons", "selected_option": {"value": "true"}}
        },
        "hitl.attr.1": {
            "hitl.value.1": {"type": "static_select", "selected_option": {"value": "1"}}
        },
        "hitl.attr.2": {"hitl.value.2": {"type": "plain_text_input", "value": "Sorry!"}},
    }
    submitted = await stack.submit(view, values)
    assert submitted.status == 200, submitted.body
    callbacks = await stack.intercom.wait_for_callbacks(1)
    assert callbacks[0].status == 200
    assert callbacks[0].body["attribute_values"][0]["value"] is True
    await stack.slack.wait_for("chat.update", count=1, predicate=lambda p: "Answered" in str(p))
