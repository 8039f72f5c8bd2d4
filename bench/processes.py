"""The benchmark's subprocesses (the bot, the bare receiver, the fakes) and its databases.

Every process is started inside an async context manager that always stops it: SIGTERM,
then SIGKILL after a grace period. Their output goes to log files in the run's temp dir;
the tail is shown when one fails to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit, urlunsplit

import aiohttp

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

SLACK_TOKEN = "xoxb-bench-token"  # noqa: S105 - made up, shared with the fake Slack only
SLACK_SIGNING_SECRET = "bench-slack-signing-secret"  # noqa: S105
INTERCOM_TOKEN = "bench-intercom-token"  # noqa: S105
INTERCOM_CLIENT_SECRET = "bench-intercom-client-secret"  # noqa: S105
CHANNEL_ID = "C0BENCH"

START_TIMEOUT = 30.0
STOP_GRACE = 15.0
# Variables of the bot's own that must not leak in from the caller's environment.
_BOT_PREFIXES = ("SLACK_", "INTERCOM_", "HITL_", "DATABASE_URL", "LOG_", "HOST", "PORT")


class StartError(RuntimeError):
    """A subprocess did not come up; the message carries the tail of its log."""


@dataclass
class Service:
    name: str
    process: asyncio.subprocess.Process
    log: Path
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass(frozen=True)
class Fakes:
    slack_api: str
    intercom_origin: str
    control: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB, from /proc (Linux only)."""
    found: dict[str, int] = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc (Linux only; else NaN)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_BOT_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR), env.get("PYTHONPATH")]))
    return env | extra


def _append(path: Path) -> BinaryIO:
    return path.open("ab")


async def _spawn(
    argv: list[str], env: dict[str, str], log: Path, cwd: Path, *, pipe_stdout: bool = False
) -> asyncio.subprocess.Process:
    with _append(log) as out:
        # stdin stays a pipe we never write: our helpers exit when it closes (we died).
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE if pipe_stdout else out,
            stderr=out,
            env=_child_env(env),
            cwd=cwd,
        )


async def stop(process: asyncio.subprocess.Process, grace: float = STOP_GRACE) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    if process.stdin is not None:
        process.stdin.close()


async def _wait_healthy(service: Service, session: aiohttp.ClientSession) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if service.process.returncode is not None:
            break
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(f"{service.url}/healthz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.05)
    problem = (
        f"exited with {service.process.returncode}"
        if service.process.returncode is not None
        else f"not healthy after {START_TIMEOUT:.0f}s"
    )
    raise StartError(f"{service.name} {problem}; last log lines:\n{log_tail(service.log)}")


@contextlib.asynccontextmanager
async def _served(
    name: str, argv: list[str], env: dict[str, str], workdir: Path, session: aiohttp.ClientSession
) -> AsyncIterator[Service]:
    port = free_port()
    log = workdir / f"{name}-{port}.log"
    env = env | {"HOST": "127.0.0.1", "PORT": str(port)}
    process = await _spawn(argv, env, log, workdir)
    service = Service(name, process, log, f"http://127.0.0.1:{port}")
    try:
        await _wait_healthy(service, session)
        yield service
    finally:
        await stop(process)


def bot_server(
    database_url: str, fakes: Fakes, workdir: Path, session: aiohttp.ClientSession
) -> contextlib.AbstractAsyncContextManager[Service]:
    """`python -m bot` against the fakes; its cwd is `workdir`, so no `.env` is read."""
    env = {
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
        "SLACK_CHANNEL_ID": CHANNEL_ID,
        "SLACK_API_URL": fakes.slack_api,
        "INTERCOM_ACCESS_TOKEN": INTERCOM_TOKEN,
        "INTERCOM_CLIENT_SECRET": INTERCOM_CLIENT_SECRET,
        "INTERCOM_API_ORIGINS": fakes.intercom_origin,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "HITL_DRAIN_SECONDS": "0",  # no load balancer to drain from: stop at once
        # Submission → callback measures the bot, not the undo window's 10 s wait.
        "HITL_UNDO_SECONDS": "0",
    }
    return _served("bot", [sys.executable, "-m", "bot"], env, workdir, session)


def naive_bot(
    database_url: str, fakes: Fakes, workdir: Path, session: aiohttp.ClientSession
) -> contextlib.AbstractAsyncContextManager[Service]:
    """bench/naive_bot.py (SQLite only) on `database_url`, posting to the fake Slack."""
    argv = [sys.executable, str(BENCH_DIR / "naive_bot.py")]
    env = {
        "DATABASE_URL": database_url,
        "INTERCOM_CLIENT_SECRET": INTERCOM_CLIENT_SECRET,
        "SLACK_API_URL": fakes.slack_api,
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_CHANNEL_ID": CHANNEL_ID,
    }
    return _served("naive-bot", argv, env, workdir, session)


def bare_receiver(
    workdir: Path, session: aiohttp.ClientSession
) -> contextlib.AbstractAsyncContextManager[Service]:
    argv = [sys.executable, str(BENCH_DIR / "bare_receiver.py")]
    env = {"INTERCOM_CLIENT_SECRET": INTERCOM_CLIENT_SECRET}
    return _served("bare-receiver", argv, env, workdir, session)


@contextlib.asynccontextmanager
async def fakes_server(
    workdir: Path, *, channel_rate: float | None = None, channel_burst: int = 1
) -> AsyncIterator[Fakes]:
    """bench/fakes_server.py in its own process; yields the URLs it printed."""
    argv = [sys.executable, str(BENCH_DIR / "fakes_server.py")]
    argv += ["--slack-token", SLACK_TOKEN, "--intercom-token", INTERCOM_TOKEN]
    if channel_rate is not None:
        argv += ["--channel-rate", str(channel_rate), "--channel-burst", str(channel_burst)]
    log = workdir / f"fakes-{uuid.uuid4().hex[:6]}.log"
    process = await _spawn(argv, {}, log, workdir, pipe_stdout=True)
    try:
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
            ready = json.loads(line)
        except (TimeoutError, ValueError):
            raise StartError(f"fakes did not start; last log lines:\n{log_tail(log)}") from None
        yield Fakes(ready["slack_api"], ready["intercom_origin"], ready["control"])
    finally:
        await stop(process)


@contextlib.asynccontextmanager
async def py_spy(pid: int, out: Path) -> AsyncIterator[None]:
    """Samples `pid` with py-spy while the block runs; folded stacks are written to `out`."""
    exe = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if exe is None:
        raise StartError("--py-spy needs py-spy on PATH (pip install py-spy)")
    argv = [exe, "record", "--pid", str(pid), "--rate", "250", "--nonblocking"]
    argv += ["--format", "raw", "--output", str(out)]
    with _append(out.with_suffix(".log")) as log:
        process = await asyncio.create_subprocess_exec(*argv, stdout=log, stderr=log)
    try:
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), STOP_GRACE)
        await stop(process)


# Databases -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def sqlite_database(workdir: Path, label: str) -> AsyncIterator[str]:
    """A database file of its own in `workdir` (kept with the run's logs): reusing one
    name per label gave each round of figure 1 the steps of the rounds before it."""
    yield f"sqlite:///{workdir / f'{label}-{uuid.uuid4().hex[:6]}.db'}"


@contextlib.asynccontextmanager
async def postgres_database(server_url: str, label: str) -> AsyncIterator[str]:
    """A fresh database on the server of `server_url`, dropped afterwards."""
    import asyncpg  # only needed with --postgres

    parts = urlsplit(server_url)
    name = f"hitl_bench_{os.getpid()}_{label}_{uuid.uuid4().hex[:6]}"
    admin_dsn = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        where = f"{parts.hostname}:{parts.port or 5432}"
        raise StartError(f"cannot reach PostgreSQL at {where}: {exc}") from exc
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(parts._replace(path=f"/{name}"))
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
