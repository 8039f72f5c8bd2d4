"""The real bot as a child process (`python -m bot`), pointed at fakes in the test process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

from bot.testing.intercom import FakeIntercom
from bot.testing.local_stack import (
    CHANNEL_ID,
    INTERCOM_CLIENT_SECRET,
    INTERCOM_TOKEN,
    SLACK_SIGNING_SECRET,
    SLACK_TOKEN,
)
from bot.testing.slack import FakeSlack

REPO = Path(__file__).resolve().parents[2]
# Short enough that a restarted process takes over a killed one's jobs at once.
TEST_LEASE_SECONDS = 1.0
POLL_SECONDS = 0.1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_environment(
    slack: FakeSlack, intercom: FakeIntercom, database_url: str, **extra: str
) -> dict[str, str]:
    """What an operator would set, pointed at the fakes."""
    env = {
        # The test's own environment is already cleared of SLACK_*, INTERCOM_*, HITL_*.
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
        "SLACK_CHANNEL_ID": CHANNEL_ID,
        "SLACK_API_URL": slack.base_url,
        "INTERCOM_ACCESS_TOKEN": INTERCOM_TOKEN,
        "INTERCOM_CLIENT_SECRET": INTERCOM_CLIENT_SECRET,
        "INTERCOM_API_ORIGINS": intercom.origin,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "HITL_POLL_INTERVAL": str(POLL_SECONDS),
        "HITL_JOB_LEASE": str(TEST_LEASE_SECONDS),
        # Suites about the undo window set it; the rest answer straight away.
        "HITL_UNDO_SECONDS": "0",
    }
    env.update(extra)
    return env


class BotProcess:
    """One `python -m bot` process; logs go to a file shown when a test fails."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self._env = env
        self.log_path = log_path
        self.port = 0
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(
        self,
        *,
        timeout: float = 15.0,  # noqa: ASYNC109 - a start deadline
        port: int | None = None,
    ) -> None:
        """Starts on a free port, or on `port` (another process's, with HITL_REUSE_PORT)."""
        self.port = port or free_port()
        env = {**self._env, "PORT": str(self.port)}
        with self.log_path.open("ab") as log:
            log.write(f"--- start on port {self.port}\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                env=env,
                cwd=self.log_path.parent,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        await self._wait_healthy(timeout)

    async def _wait_healthy(self, timeout: float) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if not self.running:
                    raise AssertionError(f"bot exited while starting:\n{self.log_tail()}")
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"bot did not answer /healthz within {timeout}s:\n{self.log_tail()}")

    async def kill(self) -> None:
        """SIGKILL: no cleanup, no handing back of jobs, connections dropped mid-call."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def terminate(self, *, timeout: float = 20.0) -> int:  # noqa: ASYNC109
        """SIGTERM, as a platform stopping the instance; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
