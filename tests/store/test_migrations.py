"""The schema is created and migrated at start, by any number of instances at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from bot.slack.blocks import step_message
from bot.store import SqlStore, schema
from bot.store.sql import _MIGRATIONS

from .factories import make_received, make_step


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


async def _schema(database_url: str) -> tuple[set[str], list[str]]:
    def look(conn: Connection) -> tuple[set[str], list[str]]:
        tables = set(inspect(conn).get_table_names())
        versions = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        return tables, versions

    store = SqlStore.connect(database_url)  # connect(), not open(): it must not migrate
    try:
        return await store.run_in_transaction(look)
    finally:
        await store.close()


async def test_start_creates_the_schema_at_the_newest_revision(database_url: str) -> None:
    store = await SqlStore.open(database_url)
    await store.close()
    tables, versions = await _schema(database_url)
    assert {"steps", "jobs", "alembic_version"} <= tables
    assert versions == [_head()]


async def test_the_migrated_indexes_are_the_schema_modules(database_url: str) -> None:
    # Queries are written against bot/store/schema.py; the database is built by the
    # migrations. An index only one of them has is either missing from every deployment
    # or written by every webhook for nothing (as the one by conversation was).
    store = await SqlStore.open(database_url)
    await store.close()

    def indexes(conn: Connection) -> dict[str, set[str]]:
        found = inspect(conn)
        return {
            table: {index["name"] for index in found.get_indexes(table) if index["name"]}
            for table in ("steps", "jobs")
        }

    inspecting = SqlStore.connect(database_url)
    try:
        migrated = await inspecting.run_in_transaction(indexes)
    finally:
        await inspecting.close()
    declared = {
        table.name: {index.name for index in table.indexes if index.name}
        for table in (schema.steps, schema.jobs)
    }
    assert migrated == declared
    assert "ix_steps_conversation" not in migrated["steps"]


async def test_instances_starting_together_migrate_once_without_clashing(
    database_url: str,
) -> None:
    stores = await asyncio.gather(*(SqlStore.open(database_url) for _ in range(4)))
    for store in stores:
        await store.close()
    _, versions = await _schema(database_url)
    assert versions == [_head()]


async def test_a_restart_on_a_migrated_database_keeps_its_rows(database_url: str) -> None:
    store = await SqlStore.open(database_url)
    step = make_step()
    await store.add_steps([step], 1.0)
    await store.close()
    again = await SqlStore.open(database_url)
    try:
        assert await again.get(step.step_id) is not None
    finally:
        await again.close()


# A step as stored before revision 0003, when the bot read fields Intercom never sends.
_OLD_STEP = {
    "step_id": "old-step",
    "conversation_id": "215473853299345",
    "callback_url": "https://api.intercom.io/procedures/215473853299345/collect_agent_input",
    "app_id": "a86dr8yl",
    "notification_id": "notif_1",
    "procedure_id": "9001",
    "procedure_name": "Refund over $40",
    "instructions": "Approve the refund?",
    "attributes": [
        {
            "identifier": "workflow_local_variables.a",
            "data_type": "boolean",
            "name": "Approve refund",
            "description": "Fin will use this",
            "options": [],
        },
        {"identifier": "workflow_local_variables.b", "data_type": "date", "name": "When"},
    ],
    "expires_at": 4102444800,
    "created_at": 1795478400,
    "test": False,
}


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def _written_by_an_earlier_version(
    database_url: str, work: Callable[[Connection], None]
) -> None:
    """`work` run on the database without migrating it to the newest revision first."""
    store = SqlStore.connect(database_url)  # connect(), not open(): it must not migrate
    try:
        await store.run_in_transaction(work)
    finally:
        await store.close()


async def test_steps_stored_before_the_published_payload_still_display(database_url: str) -> None:
    def old_database(conn: Connection) -> None:
        _upgrade_to(conn, "0002")
        conn.execute(
            text(
                "INSERT INTO steps (step_id, conversation_id, state, step_json, received_at) "
                "VALUES ('old-step', '215473853299345', 'posted', :json, 1.0)"
            ),
            {"json": json.dumps(_OLD_STEP)},
        )

    await _written_by_an_earlier_version(database_url, old_database)

    store = await SqlStore.open(database_url)
    try:
        record = await store.get("old-step")
    finally:
        await store.close()

    assert record is not None
    assert record.step.hitl_question == "Approve the refund?"
    assert record.step.procedure_name == "Refund over $40"
    assert [a.display_label for a in record.step.attributes] == ["Approve refund", "When"]
    message = step_message(record, now=2.0)
    assert "*Fin asks:* Approve the refund?" in json.dumps(message)
    assert "hitl.open" in json.dumps(message)


async def test_post_and_expire_jobs_of_an_earlier_version_move_onto_their_steps(
    database_url: str,
) -> None:
    """0005: a waiting post job becomes its step's own due post (keeping its attempts, so
    the retry looks for an earlier post); expire jobs give way to the sweep."""
    waiting, tried = make_step(expires_at=5_000), make_step(expires_at=5_000)

    def database_at_0004(conn: Connection) -> None:
        _upgrade_to(conn, "0004")
        for step, attempts in ((waiting, 0), (tried, 2)):
            conn.execute(
                text(
                    "INSERT INTO steps (step_id, conversation_id, state, step_json, received_at,"
                    " expires_at) VALUES (:id, 'c', 'received', :json, 1.0, 5000)"
                ),
                {"id": step.step_id, "json": step.model_dump_json()},
            )
            conn.execute(
                text(
                    "INSERT INTO jobs (step_id, kind, run_at, attempts, created_at) VALUES"
                    " (:id, 'post', 7.0, :attempts, 1.0), (:id, 'expire', 5000.0, 0, 1.0)"
                ),
                {"id": step.step_id, "attempts": attempts},
            )

    await _written_by_an_earlier_version(database_url, database_at_0004)

    store = await SqlStore.open(database_url)
    try:
        queued = await store.list_jobs()
        claimed = await store.claim_jobs("new", 10.0, 30.0, 10)
    finally:
        await store.close()

    assert sorted((j.step_id, j.kind, j.run_at, j.attempts) for j in queued) == sorted(
        [(waiting.step_id, "post", 7.0, 0), (tried.step_id, "post", 7.0, 2)]
    )
    assert sorted((j.step_id, j.attempts) for j in claimed) == sorted(
        [(waiting.step_id, 0), (tried.step_id, 2)]
    )
    assert all(j.on_step_row for j in claimed)


async def test_steps_stored_before_deliveries_were_kept_whole_still_read(
    database_url: str,
) -> None:
    """0006: a step stored as Step JSON (every step before it) reads as before, beside one
    stored as its signed delivery."""
    before = make_step(expires_at=5_000)
    after = make_received()

    def database_at_0005(conn: Connection) -> None:
        _upgrade_to(conn, "0005")
        conn.execute(
            text(
                "INSERT INTO steps (step_id, conversation_id, state, step_json, received_at,"
                " expires_at, post_at) VALUES (:id, 'c', 'received', :json, 1.0, 5000, 1.0)"
            ),
            {"id": before.step_id, "json": before.model_dump_json()},
        )

    await _written_by_an_earlier_version(database_url, database_at_0005)

    store = await SqlStore.open(database_url)
    try:
        assert await store.add_deliveries([after], 2.0) == [True]
        old, new = await store.get(before.step_id), await store.get(after.step_id)
        due = await store.claim_jobs("new", 10.0, 30.0, 10)
    finally:
        await store.close()

    assert old is not None
    assert old.step == before
    assert new is not None
    assert new.step == after.step()
    assert sorted(j.step_id for j in due) == sorted([before.step_id, after.step_id])
