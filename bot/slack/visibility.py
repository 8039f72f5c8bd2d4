"""Which open steps a person is shown in `/hitl` and the Home tab: the ones they may answer.

With nobody restricted (no `SLACK_ALLOWED_*`, no route with answerers), that is every open
step, read with one query as before. Otherwise each open step's access rule (its route's,
or the global one) decides, and steps the viewer may not answer are counted, not listed.
A step never changes, so the rule that applies to it is remembered by step id: only steps
not seen before are read in full.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import StepRecord
from bot.routing import Router
from bot.store import SqlStore

# Step ids whose access rule is remembered; beyond this the memory starts afresh.
_REMEMBERED_MAX = 100_000


@dataclass(frozen=True)
class PendingView:
    """What one person is shown: the newest open steps they may answer, how many they may
    answer in all, and how many others wait for someone else."""

    records: list[StepRecord]
    total: int
    for_others: int


class PendingVisibility:
    def __init__(self, store: SqlStore, router: Router) -> None:
        self._store = store
        self._router = router
        self._access_key: dict[str, int] = {}

    async def for_viewer(self, user_id: str, client: AsyncWebClient, limit: int) -> PendingView:
        if not self._router.restricted:
            records, total = await self._store.pending(limit)
            return PendingView(records, total, 0)
        step_ids = await self._store.open_step_ids()
        unseen = [step_id for step_id in step_ids if step_id not in self._access_key]
        fetched = await self._store.get_many(unseen) if unseen else {}
        if len(self._access_key) + len(fetched) > _REMEMBERED_MAX:
            self._access_key.clear()
        for step_id, record in fetched.items():
            self._access_key[step_id] = self._router.access_key(record.step)
        allowed: dict[int, bool] = {}
        visible: list[str] = []
        for step_id in step_ids:
            key = self._access_key.get(step_id)
            if key is None:
                continue  # settled and gone between the two reads
            if key not in allowed:
                allowed[key] = await self._router.access_at(key).allows(user_id, client)
            if allowed[key]:
                visible.append(step_id)
        shown_ids = visible[:limit]
        shown = {
            **fetched,
            **await self._store.get_many([i for i in shown_ids if i not in fetched]),
        }
        records = [shown[i] for i in shown_ids if i in shown and shown[i].state.is_open]
        return PendingView(records, len(visible), len(step_ids) - len(visible))
