"""What each durable job does to a step: post it, deliver its answer, refresh or expire it,
tell its thread how it settled, remind the channel of it, add Intercom's audit note.

Every handler is safe to run again: a job whose instance died mid-way is taken up by
another, so each one first checks what is already done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from bot.domain import StepRecord, StepState
from bot.intercom.client import (
    CallbackOutcome,
    CallbackResult,
    IntercomClient,
    NoteRefused,
    RetryableCallbackError,
    note_body_text,
)
from bot.metrics import Metrics
from bot.routing import Router
from bot.slack.form import attribute_label
from bot.slack.messenger import PostedMessage, SlackMessenger, SlackPermanent, SlackRetryable
from bot.slack.threads import SlackThreads
from bot.slack.trail import reminder_text, trail_text
from bot.store import Job, JobKind, SqlStore
from bot.worker import JobHandler, RetryLater

log = logging.getLogger(__name__)

_OPEN = (StepState.RECEIVED, StepState.POSTED)
# Reminders per unanswered step, `remind_after` seconds apart.
MAX_REMINDERS = 3
TEST_SINK_DETAIL = "test — not sent to Intercom"

# Finds the message an earlier attempt posted for a step: (channel_id, step_id) → message.
FindPosted = Callable[[str, str], Awaitable[PostedMessage | None]]


class StepJobs:
    def __init__(
        self,
        store: SqlStore,
        messenger: SlackMessenger,
        intercom: IntercomClient,
        *,
        channel_id: str,
        give_up_after: float,
        find_posted: FindPosted | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        threads: SlackThreads | None = None,
        remind_after: float | None = None,
        remind_mention: str | None = None,
        admin_id: str | None = None,
        router: Router | None = None,
    ) -> None:
        self._router = router
        self._store = store
        self._messenger = messenger
        self._intercom = intercom
        self._channel_id = channel_id
        self._give_up_after = give_up_after
        self._find_posted = find_posted
        self._metrics = metrics or Metrics()
        self._clock = clock
        self._threads = threads
        # Reminders need somewhere to post them.
        self._remind_after = remind_after if threads is not None else None
        self._remind_mention = remind_mention
        self._admin_id = admin_id

    def _channel_for(self, record: StepRecord) -> str:
        return self._router.channel_for(record.step) if self._router else self._channel_id

    def handlers(self) -> dict[str, JobHandler]:
        return {
            JobKind.POST: self.post,
            JobKind.DELIVER: self.deliver,
            JobKind.REFRESH: self.refresh,
            JobKind.EXPIRE: self.expire,
            JobKind.TRAIL: self.trail,
            JobKind.REMIND: self.remind,
            JobKind.NOTE: self.note,
        }

    async def _record_of(self, job: Job) -> StepRecord | None:
        # Read in the claim's transaction; only a job built by hand (tests) comes without.
        return job.record if job.record is not None else await self._store.get(job.step_id)

    async def post(self, job: Job) -> None:
        record = await self._record_of(job)
        if record is None or record.message_ts is not None:
            return
        if record.state.is_settled:
            return  # settled before it could be posted (e.g. expired): nothing to act on
        try:
            posted = await self._earlier_post(job, record)
            if posted is None:
                posted = await self._messenger.post_step(record, self._channel_for(record))
        except SlackRetryable as exc:
            self._retry_or_give_up(job, record, exc.reason, exc.retry_after)
            return
        except SlackPermanent as exc:
            log.error(
                "could not post step to Slack; giving up",
                extra=_ids(record) | {"job_kind": job.kind, "reason": exc.reason},
            )
            return
        remind_at = None if self._remind_after is None else self._clock() + self._remind_after
        await self._store.mark_posted(
            record.step.step_id, posted.channel_id, posted.ts, posted.permalink, remind_at=remind_at
        )
        log.info("step posted", extra=_ids(record) | {"channel_id": posted.channel_id})

    async def _earlier_post(self, job: Job, record: StepRecord) -> PostedMessage | None:
        """The message an earlier attempt posted, if it did.

        An attempt can post and then die (or lose Slack's reply) before the store learns
        the message's ts; posting again would show the step twice.
        """
        if job.attempts == 0 or self._find_posted is None:
            return None
        try:
            found = await self._find_posted(self._channel_for(record), record.step.step_id)
        except SlackPermanent as exc:
            # Better a rare duplicate than a step nobody sees.
            log.warning(
                "could not look for an earlier post of the step (is channels:history "
                "granted?); posting it, which may show it twice",
                extra=_ids(record) | {"reason": exc.reason},
            )
            return None
        if found is not None:
            log.warning(
                "step was already posted by an earlier attempt; keeping that message",
                extra=_ids(record) | {"message_ts": found.ts},
            )
        return found

    async def deliver(self, job: Job) -> None:
        record = await self._record_of(job)
        if record is None or record.state != StepState.SUBMITTED or record.answer is None:
            return
        if record.step.test:
            # A test step's answer goes to this local sink: nothing leaves the bot.
            await self._settle(record, StepState.ANSWERED, TEST_SINK_DETAIL)
            return
        if not record.step.answerable:
            # Never reached through Slack (the listeners refuse such answers); the URL
            # the bot would not call stays uncalled whatever wrote this job.
            await self._settle(record, StepState.FAILED, f"not sent: {record.step.unanswerable}")
            return
        try:
            result = await self._intercom.send_answer(record.step, record.answer.values)
        except RetryableCallbackError as exc:
            if self._past_deadline(job, record):
                log.error(
                    "giving up delivering the answer",
                    extra=_ids(record)
                    | {"job_kind": job.kind, "attempts": job.attempts + 1, "reason": exc.reason},
                )
                await self._settle(
                    record,
                    StepState.FAILED,
                    f"Gave up after {job.attempts + 1} attempts: {exc.reason}",
                )
                return
            raise RetryLater(exc.reason, delay=exc.retry_after) from exc
        await self._settle(record, *_outcome_state(result, maybe_sent_before=job.attempts > 0))

    async def refresh(self, job: Job) -> None:
        record = await self._record_of(job)
        if record is None or record.message_ts is None:
            return  # the post job renders the latest state when it runs
        try:
            await self._messenger.update_step(record)
        except SlackRetryable as exc:
            self._retry_or_give_up(job, record, exc.reason, exc.retry_after)
        except SlackPermanent as exc:
            log.error(
                "could not update the Slack message; giving up",
                extra=_ids(record) | {"job_kind": job.kind, "reason": exc.reason},
            )

    async def expire(self, job: Job) -> None:
        record = await self._record_of(job)
        if record is None or not record.state.is_open:
            return
        await self._settle(record, StepState.EXPIRED, None, from_states=_OPEN)

    async def trail(self, job: Job) -> None:
        """Says in the step's thread how it settled (one job per settling)."""
        record = await self._record_of(job)
        if self._threads is None or record is None or record.message_ts is None:
            return
        text = trail_text(record)
        if text is None or record.channel_id is None:
            return
        try:
            await self._threads.reply(record.channel_id, record.message_ts, text)
        except SlackRetryable as exc:
            # Not bound by the step's expiry: an expired step's trail is news too.
            if self._clock() - job.created_at < self._give_up_after:
                raise RetryLater(exc.reason, delay=exc.retry_after) from exc
            log.error(
                "giving up replying in the step's thread",
                extra=_ids(record) | {"job_kind": job.kind, "reason": exc.reason},
            )
        except SlackPermanent as exc:
            log.error(
                "could not reply in the step's thread; giving up",
                extra=_ids(record) | {"job_kind": job.kind, "reason": exc.reason},
            )

    async def remind(self, job: Job) -> None:
        """Reminds the thread of a step still unanswered; schedules the next reminder."""
        record = await self._record_of(job)
        if (
            self._threads is None
            or self._remind_after is None
            or record is None
            or not record.state.is_open
            or record.channel_id is None
            or record.message_ts is None
            or record.reminders_sent >= MAX_REMINDERS
        ):
            return
        now = self._clock()
        mention = self._router.mention_for(record.step) if self._router else self._remind_mention
        text = reminder_text(now - record.received_at, mention)
        try:
            await self._threads.reply(record.channel_id, record.message_ts, text)
        except SlackRetryable as exc:
            self._retry_or_give_up(job, record, exc.reason, exc.retry_after)
            return
        except SlackPermanent as exc:
            log.error(
                "could not post a reminder; no more reminders for this step",
                extra=_ids(record) | {"job_kind": job.kind, "reason": exc.reason},
            )
            return
        last = record.reminders_sent + 1 >= MAX_REMINDERS
        await self._store.reminder_sent(
            record.step.step_id, None if last else now + self._remind_after
        )
        log.info("reminder posted", extra=_ids(record) | {"reminder": record.reminders_sent + 1})

    async def note(self, job: Job) -> None:
        """Adds the audit note ("Answered in Slack by …") to the Intercom conversation."""
        record = await self._record_of(job)
        if (
            self._admin_id is None
            or record is None
            or record.step.test
            or record.state != StepState.ANSWERED
            or record.answer is None
        ):
            return
        answer = record.answer
        name = answer.user_id
        if self._threads is not None:
            try:
                name = await self._threads.real_name(answer.user_id) or answer.user_id
            except (SlackRetryable, SlackPermanent) as exc:
                # The id alone still says who answered; not worth holding the note back.
                log.warning(
                    "could not look up who answered; the note names their Slack id only",
                    extra=_ids(record) | {"reason": exc.reason},
                )
        labels = {a.identifier: attribute_label(a) for a in record.step.attributes}
        values = [(labels.get(v.identifier, v.identifier), v.display) for v in answer.values]
        body = note_body_text(name, answer.user_id, values, answer.comment)
        try:
            await self._intercom.add_note(record.step, self._admin_id, body)
        except RetryableCallbackError as exc:
            if self._clock() - job.created_at >= self._give_up_after:
                log.error(
                    "giving up adding the audit note",
                    extra=_ids(record) | {"job_kind": job.kind, "reason": exc.reason},
                )
                return
            raise RetryLater(exc.reason, delay=exc.retry_after) from exc
        except NoteRefused as exc:
            log.error(
                "Intercom refused the audit note; giving up",
                extra=_ids(record) | {"job_kind": job.kind, "reason": exc.reason},
            )
            return
        log.info("audit note added", extra=_ids(record))

    async def _settle(
        self,
        record: StepRecord,
        state: StepState,
        detail: str | None,
        *,
        from_states: tuple[StepState, ...] = (StepState.SUBMITTED,),
    ) -> None:
        then = [JobKind.TRAIL] if self._threads is not None else []
        if state == StepState.ANSWERED and self._admin_id is not None and not record.step.test:
            then.append(JobKind.NOTE)
        changed = await self._store.settle(
            record.step.step_id,
            state,
            detail,
            self._clock(),
            from_states=from_states,
            then=then,
        )
        if not changed:
            return
        if StepState.SUBMITTED in from_states:
            self._metrics.answers.labels(state.value).inc()
        level = logging.WARNING if state == StepState.FAILED else logging.INFO
        log.log(
            level, "step settled", extra=_ids(record) | {"state": state.value, "detail": detail}
        )

    def _past_deadline(self, job: Job, record: StepRecord) -> bool:
        now = self._clock()
        if record.step.expires_at is not None and now >= record.step.expires_at:
            return True
        return now - job.created_at >= self._give_up_after

    def _retry_or_give_up(
        self, job: Job, record: StepRecord, reason: str, retry_after: float | None
    ) -> None:
        if self._past_deadline(job, record):
            # Nobody in the channel can be told (Slack is what fails): say it loudly here.
            log.error(
                "giving up on a Slack job",
                extra=_ids(record)
                | {"job_kind": job.kind, "attempts": job.attempts + 1, "reason": reason},
            )
            return
        raise RetryLater(reason, delay=retry_after)


def _outcome_state(
    result: CallbackResult, *, maybe_sent_before: bool
) -> tuple[StepState, str | None]:
    if result.outcome == CallbackOutcome.ACCEPTED:
        return StepState.ANSWERED, None
    if result.outcome == CallbackOutcome.EXPIRED:
        return StepState.EXPIRED, "Intercom says this step expired before the answer arrived."
    if result.outcome == CallbackOutcome.ALREADY_ANSWERED:
        if maybe_sent_before:
            # Our earlier attempt may have landed before its reply was lost: say so.
            return (
                StepState.FULFILLED_ELSEWHERE,
                "Intercom already has an answer for this step; an earlier attempt to send "
                "this one may have reached it. Check the conversation.",
            )
        return StepState.FULFILLED_ELSEWHERE, None
    return StepState.FAILED, result.detail


def _ids(record: StepRecord) -> dict[str, str]:
    return {"step_id": record.step.step_id, "conversation_id": record.step.conversation_id}
