"""Channel messages for each step state, the `/hitl` list and the Block Kit Builder link."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from bot.domain import Answer, AnswerValue, Option, Precedent, Step, StepRecord, StepState
from bot.lifecycle import Stage
from bot.slack.blocks import step_message
from bot.slack.kit import block_kit_builder_url
from bot.slack.lists import pending_list

from .helpers import (
    FIXTURE_STEPS,
    NASTY,
    assert_message_within_limits,
    assert_no_raw_tokens,
    load_step,
    make_attribute,
    make_step,
)

NOW = 1795500000.0
URL = "https://app.intercom.com/a/inbox/a86dr8yl/inbox/shared/all/conversation/215473853299345"
ANSWERER = "U0ANSWER1"


def _answer(step: Step, user_id: str = ANSWERER) -> Answer:
    return Answer(
        user_id=user_id,
        values=tuple(
            AnswerValue(identifier=a.identifier, value="v", display=f"shown {i}")
            for i, a in enumerate(step.attributes)
        ),
        submitted_at=NOW,
    )


def _record(
    step: Step,
    state: StepState = StepState.POSTED,
    *,
    answered: bool = False,
    detail: str | None = None,
    received_at: float = NOW - 60,
    user_id: str = ANSWERER,
) -> StepRecord:
    return StepRecord(
        step=step,
        state=state,
        received_at=received_at,
        answer=_answer(step, user_id) if answered else None,
        outcome_detail=detail,
    )


def _message(record: StepRecord) -> dict[str, Any]:
    message = step_message(record, now=NOW)
    assert_message_within_limits(message)
    assert_no_raw_tokens(message)
    return message


def _block(message: dict[str, Any], kind: str) -> dict[str, Any]:
    matches = [b for b in message["blocks"] if b["block_id"].startswith(f"hitl.{kind}.")]
    assert len(matches) == 1, f"{len(matches)} {kind} blocks"
    block: dict[str, Any] = matches[0]
    return block


def _kinds(message: dict[str, Any]) -> list[str]:
    return [b["block_id"].split(".")[1] for b in message["blocks"]]


def _all_text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


# --- Open steps


@pytest.mark.parametrize("name", FIXTURE_STEPS)
@pytest.mark.parametrize("state", list(StepState))
def test_every_fixture_in_every_state_is_a_valid_message(name: str, state: StepState) -> None:
    _message(_record(load_step(name), state, answered=True, detail="why"))


def test_open_step_leads_with_the_question_under_the_procedure() -> None:
    message = _message(_record(load_step("refund_approval.json")))

    assert _kinds(message) == ["header", "question", "latest", "asks", "about", "actions"]
    assert _block(message, "header")["text"]["text"] == "🔴 Priority · Refund over $40"
    assert _block(message, "question")["text"]["text"].startswith(
        "*Fin asks:* Customer asks for a $45.00 refund"
    )


def test_a_step_that_is_not_priority_carries_no_priority_mark() -> None:
    message = _message(_record(load_step("all_types.json")))

    assert _block(message, "header")["text"]["text"] == "🙋 Replacement order"
    assert "Priority" not in json.dumps(message)


def test_the_customers_latest_message_is_on_the_message() -> None:
    message = _message(_record(load_step("refund_approval.json")))
    latest = _block(message, "latest")["text"]["text"]

    assert latest.splitlines() == [
        "*Latest from the customer*",
        "*Jane Doe* (customer) · <!date^1795478300^{date_short_pretty} at {time}|"
        "2026-11-23 23:58 UTC>",
        ">Sure, here it is: photo.jpg (https://example.com/photo.jpg)",
    ]


def test_a_step_without_customer_messages_has_no_latest_block() -> None:
    assert "latest" not in _kinds(_message(_record(load_step("all_types.json"))))


def test_received_step_looks_like_a_posted_one_with_its_own_block_ids() -> None:
    step = load_step("refund_approval.json")
    received = _message(_record(step, StepState.RECEIVED))
    posted = _message(_record(step, StepState.POSTED))

    assert _kinds(received) == _kinds(posted)
    assert all(b["block_id"].endswith(".received") for b in received["blocks"])


def test_header_defaults_when_there_is_no_procedure_name() -> None:
    message = _message(_record(make_step(procedure_name=None)))

    assert _block(message, "header")["text"]["text"] == "🙋 Fin needs your input"


def test_header_of_a_long_procedure_name_is_truncated_to_150() -> None:
    message = _message(_record(make_step(procedure_name="P" * 300)))

    assert len(_block(message, "header")["text"]["text"]) == 150


def test_step_without_a_question_has_no_question_block() -> None:
    message = _message(_record(make_step(hitl_question=None)))

    assert "question" not in _kinds(message)


def test_a_5000_char_question_is_truncated_within_3000() -> None:
    message = _message(_record(make_step(hitl_question="i" * 5000)))
    text = _block(message, "question")["text"]["text"]

    assert len(text) <= 3000
    assert text.endswith("…")


def test_asks_lists_each_attribute_with_a_type_word() -> None:
    message = _message(_record(load_step("refund_approval.json")))
    asks = _block(message, "asks")["text"]["text"]

    assert asks.splitlines() == [
        "*To answer, fill in*",
        "• *Approve refund* — yes / no",
        "• *Refund reason* — one of 3 options",
        "• *Note for the customer* — text",
    ]


def test_asks_names_every_data_type() -> None:
    message = _message(_record(load_step("all_types.json")))
    asks = _block(message, "asks")["text"]["text"]

    for word in ("text", "whole number", "number", "yes / no", "one of 4", "date and time"):
        assert word in asks


def test_asks_for_98_attributes_with_300_char_labels_ends_with_and_more() -> None:
    step = make_step(*(make_attribute(i, name="L" * 300) for i in range(98)))
    message = _message(_record(step))
    asks = _block(message, "asks")["text"]["text"]

    assert len(asks) <= 3000
    assert asks.splitlines()[-1].startswith("• …and ")
    assert len(message["blocks"]) <= 50


def test_30_attributes_are_all_listed() -> None:
    step = make_step(*(make_attribute(i) for i in range(30)))
    asks = _block(_message(_record(step)), "asks")["text"]["text"]

    assert asks.count("\n• ") == 30
    assert "and" not in asks


def test_context_links_the_conversation_and_shows_the_expiry() -> None:
    message = _message(_record(load_step("refund_approval.json")))
    context = _block(message, "about")["elements"][0]["text"]

    assert context == (
        f"Assigned in Intercom to *Customer Support* · <{URL}|Conversation 215473853299345> · "
        "Expires <!date^1795564800^{date_short_pretty} at {time}|2026-11-25 00:00 UTC>"
    )


def test_context_names_an_admin_assignee() -> None:
    message = _message(_record(load_step("all_types.json")))

    assert _block(message, "about")["elements"][0]["text"].startswith(
        "Assigned in Intercom to *Priya Raman* · "
    )


def test_context_without_an_inbox_link_shows_the_conversation_id() -> None:
    step = load_step("single_boolean.json").model_copy(
        update={"conversation_url": None, "app_id": None}
    )

    assert _block(_message(_record(step)), "about")["elements"][0]["text"] == (
        "Conversation 215473853300001"
    )


def test_without_the_payloads_link_one_is_built_on_the_regional_host() -> None:
    step = load_step("single_boolean.json").model_copy(
        update={"conversation_url": None, "app_id": "a86dr8yl"}
    )

    assert _block(_message(_record(step)), "about")["elements"][0]["text"] == (
        "<https://app.eu.intercom.com/a/inbox/a86dr8yl/inbox/shared/all/conversation/"
        "215473853300001|Conversation 215473853300001>"
    )


def test_context_says_the_deadline_passed_when_it_has() -> None:
    message = _message(_record(make_step(expires_at=int(NOW) - 1)))

    assert (
        _block(message, "about")["elements"][0]["text"]
        .split(" · ")[1]
        .startswith("Deadline passed <!date^")
    )


def test_conversation_url_cannot_break_out_of_its_link() -> None:
    step = make_step(conversation_url="https://app.intercom.com/a?b=1&c=2")
    context = _block(_message(_record(step)), "about")["elements"][0]["text"]

    assert context.startswith("<https://app.intercom.com/a?b=1&amp;c=2|Conversation ")


def test_open_step_has_a_primary_answer_button() -> None:
    step = load_step("refund_approval.json")
    button, claim = _block(_message(_record(step)), "actions")["elements"]

    assert (claim["text"]["text"], claim["action_id"]) == ("I'm on it", "hitl.claim")
    assert button["text"]["text"] == "Answer"
    assert button["action_id"] == "hitl.open"
    assert button["value"] == step.step_id
    assert button["style"] == "primary"


def test_single_boolean_step_offers_yes_no_and_open_form() -> None:
    step = load_step("single_boolean.json")
    elements = _block(_message(_record(step)), "actions")["elements"]

    assert [(e["text"]["text"], e["action_id"], e.get("style")) for e in elements] == [
        ("Yes", "hitl.answer.yes", "primary"),
        ("No", "hitl.answer.no", "danger"),
        ("Open form", "hitl.open", None),
        ("I'm on it", "hitl.claim", None),
    ]
    assert {e["value"] for e in elements} == {step.step_id}


def test_a_step_id_too_long_for_a_button_value_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="button value"):
        step_message(_record(make_step(step_id="s" * 2001)), now=NOW)


def test_block_ids_change_with_the_state() -> None:
    step = load_step("refund_approval.json")
    posted = _message(_record(step))
    answered = _message(_record(step, StepState.ANSWERED, answered=True))

    posted_ids = {b["block_id"] for b in posted["blocks"]}
    assert posted_ids.isdisjoint(b["block_id"] for b in answered["blocks"])


def test_fallback_text_says_fin_needs_a_teammate() -> None:
    message = _message(_record(load_step("refund_approval.json")))

    assert message["text"] == (
        "🔴 Priority · 🙋 Fin needs a teammate: Refund over $40 — Customer asks for a $45.00 "
        "refund on order #1234 (arrived damaged, photo attached). Approve the refund and pick "
        "a reason."
    )


# --- Working a step: the claim, the last call, precedent, the undo window


def _claimed(step: Step, *, until: float, by: str = "U0ALICE") -> StepRecord:
    return _record(step).model_copy(
        update={"claimed_by": by, "claimed_at": NOW - 120, "claim_until": until}
    )


def test_a_claimed_step_says_who_is_on_it_since_when_and_offers_release() -> None:
    message = _message(_claimed(load_step("refund_approval.json"), until=NOW + 780))

    (line,) = _block(message, "working")["elements"]
    assert line["text"].startswith("👀 <@U0ALICE> is on it since <!date^1795499880^{time}|")
    assert "(until <!date^1795500780^{time}|" in line["text"]
    elements = _block(message, "actions")["elements"]
    assert [e["action_id"] for e in elements] == ["hitl.open", "hitl.release"]


def test_a_claim_that_ran_out_says_so_and_offers_the_claim_again() -> None:
    message = _message(_claimed(load_step("refund_approval.json"), until=NOW - 1))

    (line,) = _block(message, "working")["elements"]
    assert line["text"].startswith("⌛ <@U0ALICE>'s claim ran out <!date^1795499999^{time}|")
    elements = _block(message, "actions")["elements"]
    assert [e["action_id"] for e in elements] == ["hitl.open", "hitl.claim"]


def test_claimed_and_free_actions_have_different_block_ids() -> None:
    step = load_step("refund_approval.json")
    free = _block(_message(_record(step)), "actions")["block_id"]
    claimed = _block(_message(_claimed(step, until=NOW + 60)), "actions")["block_id"]

    assert free != claimed


def test_a_claimer_id_that_is_not_a_slack_id_is_escaped() -> None:
    record = _claimed(load_step("refund_approval.json"), until=NOW + 60, by="<!channel>")

    assert_no_raw_tokens(_message(record))


def test_the_last_call_marks_the_message_as_about_to_expire() -> None:
    step = make_step(expires_at=int(NOW) + 100)
    record = _record(step).model_copy(update={"reminders_sent": Stage.LAST_CALL})

    (line,) = _block(_message(record), "working")["elements"]
    assert line["text"].startswith(f"⏳ *Expires <!date^{int(NOW) + 100}^")
    assert line["text"].endswith("* — last call.")


def test_before_the_last_call_there_is_no_mark() -> None:
    step = make_step(expires_at=int(NOW) + 100)
    record = _record(step).model_copy(update={"reminders_sent": Stage.ESCALATED})

    assert "working" not in _kinds(_message(record))


def test_precedent_shows_yes_counts_top_options_and_the_median() -> None:
    precedent = (
        Precedent(label="Approve", of=20, yes=18),
        Precedent(label="Reason", of=12, top=(("Damaged", 7), ("Late", 5))),
        Precedent(label="Amount", of=9, median=42.5),
    )
    record = _record(load_step("refund_approval.json")).model_copy(update={"precedent": precedent})

    text = _block(_message(record), "precedent")["text"]["text"]
    assert text.splitlines() == [
        "📊 *Earlier answers to this procedure*",
        "• *Approve*: Yes in 18 of the last 20",
        "• *Reason*: Damaged (7), Late (5) (last 12)",
        "• *Amount*: median 42.5 (last 9)",
    ]


def test_without_history_there_is_no_precedent() -> None:
    assert "precedent" not in _kinds(_message(_record(load_step("refund_approval.json"))))


def test_precedent_labels_are_escaped() -> None:
    precedent = (Precedent(label=NASTY, of=2, top=((NASTY, 2),)),)
    record = _record(make_step()).model_copy(update={"precedent": precedent})

    assert_no_raw_tokens(_message(record))


def test_inside_the_undo_window_the_answer_shows_with_when_it_goes_and_undo() -> None:
    step = load_step("single_boolean.json")
    record = _record(step, StepState.SUBMITTED, answered=True).model_copy(
        update={"send_at": NOW + 10}
    )
    message = _message(record)

    assert "shown 0" in _block(message, "answer")["text"]["text"]
    (status,) = _block(message, "status")["elements"]
    assert status["text"].startswith(f"⏳ <@{ANSWERER}>'s answer goes to Fin <!date^1795500010^")
    (undo,) = _block(message, "actions")["elements"]
    assert (undo["text"]["text"], undo["action_id"], undo["value"]) == (
        "Undo",
        "hitl.undo",
        step.step_id,
    )


def test_after_the_undo_window_the_message_says_it_is_sending() -> None:
    record = _record(load_step("single_boolean.json"), StepState.SUBMITTED, answered=True)
    message = _message(record.model_copy(update={"send_at": NOW - 1}))

    assert "actions" not in _kinds(message)
    (status,) = _block(message, "status")["elements"]
    assert "Sending" in status["text"]


# --- Settled and in-between states


def test_submitted_step_has_no_buttons_and_says_whose_answer_is_sent() -> None:
    step = load_step("refund_approval.json")
    message = _message(_record(step, StepState.SUBMITTED, answered=True))

    assert "actions" not in _kinds(message)
    assert _block(message, "status")["elements"][0]["text"] == (
        f"⏳ Sending <@{ANSWERER}>'s answer to Fin…"
    )


def test_a_user_id_that_is_not_a_slack_id_is_escaped() -> None:
    step = make_step()
    message = _message(_record(step, StepState.SUBMITTED, answered=True, user_id="<!channel>"))

    assert "&lt;!channel&gt;" in _block(message, "status")["elements"][0]["text"]


def test_answered_step_shows_who_answered_and_each_value() -> None:
    step = load_step("refund_approval.json")
    message = _message(_record(step, StepState.ANSWERED, answered=True))

    assert "actions" not in _kinds(message)
    assert _block(message, "outcome")["text"]["text"].splitlines() == [
        f"✅ Answered by <@{ANSWERER}>",
        "• *Approve refund*: shown 0",
        "• *Refund reason*: shown 1",
        "• *Note for the customer*: shown 2",
    ]


def test_answered_context_has_no_expiry() -> None:
    step = load_step("refund_approval.json")
    message = _message(_record(step, StepState.ANSWERED, answered=True))

    assert "Expires" not in _block(message, "about")["elements"][0]["text"]


def test_answered_values_are_escaped_and_truncated() -> None:
    step = make_step(make_attribute(0, name=NASTY))
    answer = Answer(
        user_id=ANSWERER,
        values=(
            AnswerValue(identifier=step.attributes[0].identifier, value=1, display=NASTY * 300),
        ),
        submitted_at=NOW,
    )
    record = StepRecord(step=step, state=StepState.ANSWERED, received_at=NOW, answer=answer)
    text = _block(_message(record), "outcome")["text"]["text"]

    assert "&lt;!channel&gt;" in text
    assert len(text) <= 3000


def test_expired_step_says_nothing_was_sent() -> None:
    message = _message(_record(load_step("refund_approval.json"), StepState.EXPIRED))

    assert _block(message, "outcome")["text"]["text"] == (
        "⌛ Expired — nobody answered before Intercom's deadline. Nothing was sent to Fin."
    )
    assert "actions" not in _kinds(message)


def test_expired_step_shows_the_outcome_detail_escaped() -> None:
    record = _record(make_step(), StepState.EXPIRED, detail="Intercom said <!here> expired")

    assert _block(_message(record), "outcome")["text"]["text"] == (
        "Intercom said &lt;!here&gt; expired"
    )


def test_fulfilled_elsewhere_names_whose_answer_was_not_used() -> None:
    record = _record(make_step(), StepState.FULFILLED_ELSEWHERE, answered=True)

    assert _block(_message(record), "outcome")["text"]["text"] == (
        "↪️ Already answered elsewhere (Intercom had an answer for this step), "
        f"so <@{ANSWERER}>'s answer was not used."
    )


def test_fulfilled_elsewhere_without_an_answer_mentions_nobody() -> None:
    record = _record(make_step(), StepState.FULFILLED_ELSEWHERE)

    assert "<@" not in _block(_message(record), "outcome")["text"]["text"]


def test_failed_step_shows_the_reason_escaped() -> None:
    record = _record(make_step(), StepState.FAILED, detail="403 <@U123> lacks access & more")

    assert _block(_message(record), "outcome")["text"]["text"] == (
        "❌ Not delivered to Fin: 403 &lt;@U123&gt; lacks access &amp; more"
    )


def test_failed_step_without_a_reason() -> None:
    record = _record(make_step(), StepState.FAILED)

    assert _block(_message(record), "outcome")["text"]["text"] == "❌ Not delivered to Fin."


@pytest.mark.parametrize("state", list(StepState))
def test_untrusted_text_never_reaches_mrkdwn_raw(state: StepState) -> None:
    attributes = (
        make_attribute(0, "list", name=NASTY, options=(Option(id=NASTY, label=NASTY),)),
        make_attribute(1, NASTY, name=NASTY, label=NASTY),
    )
    nasty_html = f"<p>{NASTY}</p><p>&lt;!channel&gt; &lt;@U1&gt; <a href='https://evil'>x</a></p>"
    author = {"type": "user", "name": NASTY, "email": NASTY}
    step = make_step(
        *attributes,
        procedure_name=NASTY,
        hitl_question=NASTY,
        conversation_id=NASTY,
        expires_at=int(NOW) + 60,
        assign_to={"type": "team", "id": NASTY, "name": NASTY},
        recent_messages=[{"body": nasty_html, "author": author, "part_type": NASTY}],
    )
    record = StepRecord(
        step=step,
        state=state,
        received_at=NOW,
        answer=Answer(
            user_id=NASTY,
            values=tuple(
                AnswerValue(identifier=a.identifier, value=NASTY, display=NASTY) for a in attributes
            ),
            submitted_at=NOW,
        ),
        outcome_detail=NASTY,
    )

    message = _message(record)

    assert "<!channel>" not in message["text"]


def test_fallback_text_is_escaped() -> None:
    message = _message(_record(make_step(procedure_name="<!channel> & <@U123>")))

    assert message["text"] == (
        "🙋 Fin needs a teammate: &lt;!channel&gt; &amp; &lt;@U123&gt; — Approve the refund?"
    )


# --- /hitl


def _pending(count: int, *, total: int | None = None, **kwargs: Any) -> dict[str, Any]:
    records = [
        _record(make_step(step_id=f"step-{i}", conversation_id=f"c{i}"), received_at=NOW - 300)
        for i in range(count)
    ]
    message = pending_list(
        records,
        total=count if total is None else total,
        permalinks=kwargs.get("permalinks", {}),
        now=NOW,
    )
    assert_message_within_limits(message)
    assert_no_raw_tokens(message)
    return message


def test_nothing_pending() -> None:
    message = _pending(0)

    assert message["text"] == "Nothing pending 🎉"
    assert [b["text"]["text"] for b in message["blocks"]] == ["Nothing pending 🎉"]


def test_pending_list_counts_the_waiting_steps() -> None:
    assert _pending(3)["blocks"][0]["text"]["text"] == "*3 steps waiting*"


def test_pending_list_says_one_step_in_the_singular() -> None:
    assert _pending(1)["text"] == "1 step waiting"


def test_pending_line_names_procedure_conversation_and_age() -> None:
    assert _pending(1)["blocks"][1]["text"]["text"] == (
        "*Refund over $40*\nApprove the refund?\nConversation c0 · waiting 5 min"
    )


def test_pending_line_links_the_request_when_a_permalink_is_known() -> None:
    link = "https://example.slack.com/archives/C1/p1"
    message = _pending(2, permalinks={"step-1": link})

    assert f"<{link}|Open request>" not in message["blocks"][1]["text"]["text"]
    assert message["blocks"][2]["text"]["text"].endswith(f" · <{link}|Open request>")


@pytest.mark.parametrize(
    ("seconds", "age"),
    [
        (10, "under 1 min"),
        (300, "5 min"),
        (7200, "2 h"),
        (3 * 86400 + 5, "3 d"),
        (-30, "under 1 min"),
    ],
)
def test_pending_age_is_in_friendly_units(seconds: float, age: str) -> None:
    record = _record(make_step(), received_at=NOW - seconds)
    message = pending_list([record], total=1, permalinks={}, now=NOW)

    assert message["blocks"][1]["text"]["text"].endswith(f"waiting {age}")


def test_pending_list_says_how_many_more_are_not_shown() -> None:
    message = _pending(20, total=57)

    assert len(message["blocks"]) == 22
    assert message["blocks"][-1]["elements"][0]["text"] == "…and 37 more not shown"


def test_pending_list_shows_at_most_20_steps() -> None:
    message = _pending(30, total=30)

    assert len(message["blocks"]) == 22
    assert message["blocks"][-1]["elements"][0]["text"] == "…and 10 more not shown"


def test_pending_line_says_how_long_the_step_has_left() -> None:
    record = _record(make_step(expires_at=int(NOW) + 7200), received_at=NOW - 300)
    message = pending_list([record], total=1, permalinks={}, now=NOW)

    assert message["blocks"][1]["text"]["text"].endswith("waiting 5 min · 2 h left")


def test_pending_line_says_when_the_deadline_passed() -> None:
    record = _record(make_step(expires_at=int(NOW) - 5), received_at=NOW - 300)
    message = pending_list([record], total=1, permalinks={}, now=NOW)

    assert message["blocks"][1]["text"]["text"].endswith(" · deadline passed")


def test_pending_line_says_who_is_on_a_claimed_step_and_for_how_long() -> None:
    record = _claimed(make_step(), until=NOW + 600)
    lapsed = _claimed(make_step(step_id="step-2"), until=NOW - 1)
    message = pending_list([record, lapsed], total=2, permalinks={}, now=NOW)

    assert message["blocks"][1]["text"]["text"].endswith(" · 👀 <@U0ALICE> on it (10 min left)")
    assert "on it" not in message["blocks"][2]["text"]["text"]


def test_pending_list_escapes_untrusted_text() -> None:
    record = _record(make_step(procedure_name=NASTY, conversation_id=NASTY))
    message = pending_list([record], total=1, permalinks={}, now=NOW)

    assert_no_raw_tokens(message)
    assert_message_within_limits(message)


# --- Block Kit Builder


def test_block_kit_builder_url_encodes_the_payload() -> None:
    payload = {"blocks": _message(_record(load_step("refund_approval.json")))["blocks"]}
    url = block_kit_builder_url(payload)
    prefix = "https://app.slack.com/block-kit-builder/#"

    assert url.startswith(prefix)
    assert json.loads(urllib.parse.unquote(url.removeprefix(prefix))) == payload
    assert " " not in url


def test_an_absurd_expiry_still_builds_a_message() -> None:
    message = _message(_record(make_step(expires_at=10**20)))

    assert "|100000000000000000000>" in _block(message, "about")["elements"][0]["text"]
