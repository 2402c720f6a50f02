"""Where ``async def`` hookimpls run: one long-lived event loop per plugin manager.

A data source's coroutine ``pynomaly_connect`` may create loop-bound things — an asyncpg pool,
an aiohttp session, an :class:`asyncio.Queue` — that its ``pynomaly_read_data`` awaits later.
Running each coroutine under a fresh :func:`asyncio.run` would bind them to a loop that is gone
by then. So every coroutine a hookimpl returns runs on the same loop: the manager's own, started
in a daemon thread on first use, or, inside :mod:`pynomaly.aio`, the caller's running loop
(:data:`CALLER_LOOP`, set by :mod:`pynomaly.aio` around its worker thread).

Nothing here imports :mod:`asyncio` until an async hookimpl actually runs.
"""

from __future__ import annotations

import contextvars
import inspect
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import asyncio

#: The event loop of the :mod:`pynomaly.aio` caller whose worker thread is running; ``None``
#: outside :mod:`pynomaly.aio`.
CALLER_LOOP: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "pynomaly_caller_loop", default=None
)


class EventLoopThread:
    """Runs coroutines and async generators to completion from synchronous code."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def resolve(self, value: Any) -> Any:
        """``value`` itself, or — for an awaitable or an async generator that a hookimpl
        returned — its result, or a synchronous iterator over it."""
        if inspect.isawaitable(value):
            return self.run(value)
        if inspect.isasyncgen(value):
            return self.iterate(value)
        return value

    def run(self, awaitable: Any) -> Any:
        """Await ``awaitable`` on the caller's loop (under :mod:`pynomaly.aio`) or on this
        manager's loop, blocking until it is done."""
        import asyncio

        loop = CALLER_LOOP.get() or self.loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise RuntimeError(
                "an async plugin hook was called from the event loop it must run on; "
                "use pynomaly.aio from async code"
            )
        return asyncio.run_coroutine_threadsafe(_awaited(awaitable), loop).result()

    def iterate(self, agen: AsyncIterator[Any]) -> Iterator[Any]:
        """A synchronous iterator over an async generator, each step run like :meth:`run`."""
        while True:
            try:
                item = self.run(agen.__anext__())
            except StopAsyncIteration:
                return
            yield item

    def loop(self) -> asyncio.AbstractEventLoop:
        """The manager's loop, started in a daemon thread on first use."""
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                import asyncio

                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="pynomaly-plugin-loop", daemon=True
                )
                self._thread.start()
            return self._loop

    def close(self) -> None:
        """Stop and close the manager's loop (a later coroutine starts a new one)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


__all__ = ["CALLER_LOOP", "EventLoopThread"]
