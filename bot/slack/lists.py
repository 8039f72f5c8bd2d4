"""The lists of steps: `/hitl`, `/hitl stats` and the App Home tab."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain import StepRecord, StepState
from bot.intercom.links import inbox_link
from bot.slack import ids
from bot.slack.blocks import ANSWER_BUTTON, ANSWER_IN_INTERCOM, CONVERSATION, PRIORITY_MARK
from bot.slack.form import procedure_title
from bot.slack.kit import button, context, header, link, section
from bot.slack.mentions import mention
from bot.slack.text import BUTTON_VALUE_MAX, duration, mrkdwn_text, truncate
from bot.stats import ProcedureStats

# User-facing strings of the lists. `{…}` fields are filled with escaped text.
NOTHING_PENDING = "Nothing pending 🎉"
NOTHING_FOR_YOU = "Nothing waiting for you 🎉"
FOR_OTHERS_ONE = "1 step waiting for other teams"
FOR_OTHERS_MANY = "{count} steps waiting for other teams"
PENDING_ONE = "1 step waiting"
PENDING_MANY = "{count} steps waiting"
PENDING_LINE = "{conversation} · waiting {age}"
PENDING_EXPIRES = "{left} left"
PENDING_EXPIRED = "deadline passed"
PENDING_ON_IT = "👀 {who} on it ({left} left)"
PENDING_UNANSWERABLE = "⚠️ can't be answered from Slack"
OPEN_REQUEST = "Open request"
MORE_NOT_SHOWN = "…and {count} more not shown"
STATS_HEADING = "*Last 7 days, per procedure*"
STATS_NONE = "No steps answered or expired in the last 7 days."
STATS_LINE = "*{procedure}*\n{answered} answered · {expired} expired · time to answer: {times}"
STATS_TIMES = "median {median}, p90 {p90}"
STATS_NO_TIMES = "none answered"
STATS_UNNAMED = "(no procedure name)"
STATS_MORE = "…and {count} more procedures"
HOME_PENDING_HEADER = "Waiting for a teammate"
HOME_MINE_HEADER = "Answered by you recently"
HOME_NOTHING_PENDING = "Nothing pending 🎉"
HOME_NOTHING_MINE = "You haven't answered any steps yet."
HOME_MINE_LINE = "*{procedure}* · {conversation} · {outcome}"
HOME_OUTCOMES = {
    StepState.SUBMITTED: "⏳ sending to Fin",
    StepState.ANSWERED: "✅ answered",
    StepState.EXPIRED: "⌛ expired",
    StepState.FULFILLED_ELSEWHERE: "↪️ answered elsewhere",
    StepState.FAILED: "❌ not delivered",
}

# One heading, the rows, and a "more" line stay well within a message's 50 blocks.
STATS_SHOWN_MAX = 45
PENDING_SHOWN_MAX = 20
HOME_PENDING_SHOWN_MAX = 20
HOME_MINE_SHOWN_MAX = 10

# Budgets for untrusted pieces inside one text, so one long piece cannot crowd out the rest.
_NAME_SHOWN_MAX = 200
_ID_SHOWN_MAX = 100
_LINE_SHOWN_MAX = 600
_QUESTION_IN_LIST_MAX = 200


def _pending_line(record: StepRecord, permalink: str | None, now: float) -> str:
    step = record.step
    procedure = mrkdwn_text(procedure_title(step), _NAME_SHOWN_MAX)
    title = f"{PRIORITY_MARK} · *{procedure}*" if step.is_priority else f"*{procedure}*"
    about = mrkdwn_text(
        PENDING_LINE.format(
            conversation=CONVERSATION.format(id=truncate(step.conversation_id, _ID_SHOWN_MAX)),
            age=duration(now - record.received_at),
        ),
        _LINE_SHOWN_MAX,
    )
    if step.expires_at is not None:
        left = step.expires_at - now
        about += " · " + (
            PENDING_EXPIRES.format(left=duration(left)) if left > 0 else PENDING_EXPIRED
        )
    line = title
    if step.hitl_question and step.hitl_question.strip():
        line += f"\n{mrkdwn_text(step.hitl_question.strip(), _QUESTION_IN_LIST_MAX)}"
    line += f"\n{about}"
    if record.claimed_by is not None and record.claimed_now(now):
        who = mention(record.claimed_by)
        claim_left = duration((record.claim_until or now) - now)
        line += f" · {PENDING_ON_IT.format(who=who, left=claim_left)}"
    if permalink:
        line += f" · {link(permalink, OPEN_REQUEST)}"
    if not step.answerable:
        url = inbox_link(step)
        line += f" · {PENDING_UNANSWERABLE}"
        if url:
            line += f": {link(url, ANSWER_IN_INTERCOM)}"
    return line


def _for_others(count: int) -> str:
    return FOR_OTHERS_ONE if count == 1 else FOR_OTHERS_MANY.format(count=count)


def pending_list(
    records: list[StepRecord],
    *,
    total: int,
    permalinks: dict[str, str],
    now: float,
    for_others: int = 0,
) -> dict[str, Any]:
    """The `/hitl` answer: up to 20 open steps the viewer may answer, newest first as
    given, how many more, and how many wait for other teams."""
    if total <= 0 and not records:
        text = NOTHING_PENDING if not for_others else NOTHING_FOR_YOU
        blocks = [section(ids.block("pending.none"), text)]
        if for_others:
            blocks.append(context(ids.block("pending.others"), _for_others(for_others)))
        return {"text": text, "blocks": blocks}
    shown = records[:PENDING_SHOWN_MAX]
    total = max(total, len(records))
    summary = PENDING_ONE if total == 1 else PENDING_MANY.format(count=total)
    blocks = [section(ids.block("pending.summary"), f"*{summary}*")]
    blocks += [
        section(
            ids.block("pending", str(index)),
            _pending_line(record, permalinks.get(record.step.step_id), now),
        )
        for index, record in enumerate(shown)
    ]
    if total > len(shown):
        blocks.append(
            context(ids.block("pending.more"), MORE_NOT_SHOWN.format(count=total - len(shown)))
        )
    if for_others:
        blocks.append(context(ids.block("pending.others"), _for_others(for_others)))
    return {"text": summary, "blocks": blocks}


def stats_message(rows: Sequence[ProcedureStats]) -> dict[str, Any]:
    """The `/hitl stats` answer: one section per procedure, busiest first."""
    if not rows:
        return {"text": STATS_NONE, "blocks": [section(ids.block("stats.none"), STATS_NONE)]}
    blocks = [section(ids.block("stats.heading"), STATS_HEADING)]
    for index, row in enumerate(rows[:STATS_SHOWN_MAX]):
        times = (
            STATS_TIMES.format(
                median=duration(row.median_seconds, exact=True),
                p90=duration(row.p90_seconds, exact=True),
            )
            if row.median_seconds is not None and row.p90_seconds is not None
            else STATS_NO_TIMES
        )
        line = STATS_LINE.format(
            procedure=mrkdwn_text(row.procedure or STATS_UNNAMED, _NAME_SHOWN_MAX),
            answered=row.answered,
            expired=row.expired,
            times=times,
        )
        blocks.append(section(ids.block("stats", str(index)), line))
    if len(rows) > STATS_SHOWN_MAX:
        more = STATS_MORE.format(count=len(rows) - STATS_SHOWN_MAX)
        blocks.append(context(ids.block("stats.more"), more))
    return {"text": STATS_HEADING.strip("*"), "blocks": blocks}


def home_view(
    pending: Sequence[StepRecord],
    *,
    pending_total: int,
    mine: Sequence[StepRecord],
    now: float,
    for_others: int = 0,
) -> dict[str, Any]:
    """The App Home tab: open steps newest first, each with an Answer button, then the
    viewer's recent answers. At most ~35 blocks, well within a view's 100."""
    blocks: list[dict[str, Any]] = [
        header(ids.block("home.pending"), HOME_PENDING_HEADER),
    ]
    shown = [r for r in pending if len(r.step.step_id) <= BUTTON_VALUE_MAX]
    shown = shown[:HOME_PENDING_SHOWN_MAX]
    if not shown:
        nothing = NOTHING_FOR_YOU if for_others else HOME_NOTHING_PENDING
        blocks.append(section(ids.block("home.none"), nothing))
    for index, record in enumerate(shown):
        block = section(
            ids.block("home.pending", str(index)), _pending_line(record, record.permalink, now)
        )
        if record.step.answerable:
            block["accessory"] = button(
                ANSWER_BUTTON, ids.OPEN_FROM_HOME, record.step.step_id, "primary"
            )
        blocks.append(block)
    total = max(pending_total, len(shown))
    if total > len(shown):
        blocks.append(
            context(ids.block("home.more"), MORE_NOT_SHOWN.format(count=total - len(shown)))
        )
    if for_others:
        blocks.append(context(ids.block("home.others"), _for_others(for_others)))
    blocks += [
        {"type": "divider", "block_id": ids.block("home.divider")},
        header(ids.block("home.mine"), HOME_MINE_HEADER),
    ]
    if not mine:
        blocks.append(context(ids.block("home.mine.none"), HOME_NOTHING_MINE))
    for index, record in enumerate(mine[:HOME_MINE_SHOWN_MAX]):
        line = HOME_MINE_LINE.format(
            procedure=mrkdwn_text(procedure_title(record.step), _NAME_SHOWN_MAX),
            conversation=mrkdwn_text(
                CONVERSATION.format(id=record.step.conversation_id), _ID_SHOWN_MAX
            ),
            outcome=HOME_OUTCOMES.get(record.state, record.state.value),
        )
        blocks.append(section(ids.block("home.mine", str(index)), line))
    return {"type": "home", "callback_id": ids.HOME, "blocks": blocks}
