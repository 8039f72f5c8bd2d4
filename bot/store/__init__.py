"""Durable state: steps, the one answer each, and the jobs that act on them."""

from bot.store.jobs import Job, QueuedJob
from bot.store.sql import SqlStore
from bot.store.steps import ClaimResult
from bot.store.working import UndoOutcome

__all__ = ["ClaimResult", "Job", "QueuedJob", "SqlStore", "UndoOutcome"]
