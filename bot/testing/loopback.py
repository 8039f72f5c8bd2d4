"""What every loopback fake shares: serving on 127.0.0.1 at a free port, start/stop (or
`async with`), and waiting until what it has recorded satisfies a test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import web


class StartStop:
    """`async with` for what has `start()` and `stop()`: the fakes and LocalStack."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


class LoopbackServer(StartStop):
    """Subclasses add their routes in `_add_routes` and call `_notify()` after recording."""

    name = "fake"

    def __init__(self) -> None:
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        """Start serving on 127.0.0.1 at a free port."""
        if self._runner is not None:
            raise RuntimeError(f"{self.name} is already started")
        # Created here so they belong to the loop that runs the server.
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()
        app = web.Application()
        self._add_routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving; scripted delays still pending end at once."""
        if self._runner is None:
            return
        self._stopping.set()
        runner, self._runner, self._port = self._runner, None, None
        await runner.cleanup()

    @property
    def _base_url(self) -> str:
        if self._port is None:
            raise RuntimeError(f"{self.name} is not started")
        return f"http://127.0.0.1:{self._port}"

    async def _wait_until(
        self,
        ready: Callable[[], bool],
        within: float,
        describe: Callable[[], str],
    ) -> None:
        try:
            async with asyncio.timeout(within):
                async with self._changed:
                    await self._changed.wait_for(ready)
        except TimeoutError:
            raise TimeoutError(f"{self.name}: timed out after {within}s: {describe()}") from None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
