"""Durable state: steps, the one answer each, and the jobs that act on them."""

from bot.store.sql import ClaimResult, Job, JobKind, QueuedJob, SqlStore

__all__ = ["ClaimResult", "Job", "JobKind", "QueuedJob", "SqlStore"]
