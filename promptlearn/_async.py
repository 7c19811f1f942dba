"""One concurrency model: async inside, and this thin bridge for sync callers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import weakref
from typing import Awaitable, TypeVar

T = TypeVar("T")


def run_sync(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to completion from sync code.

    Inside a running event loop (Jupyter, IPython) ``asyncio.run`` refuses to
    nest, so the coroutine runs on a fresh loop in a worker thread instead. An
    interrupt (Jupyter's stop button) reaches the waiting thread, not the worker:
    the run is cancelled there and waited for, so it stops and releases its run
    directory instead of going on in the background.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coroutine(awaitable))
    loop = asyncio.new_event_loop()
    task = loop.create_task(_as_coroutine(awaitable))

    def drive() -> T:
        try:
            return loop.run_until_complete(task)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(drive)
        try:
            return future.result()
        except KeyboardInterrupt:
            if not future.done():
                try:
                    loop.call_soon_threadsafe(task.cancel)
                except RuntimeError:  # the loop closed as the interrupt came: nothing left to cancel
                    pass
            concurrent.futures.wait([future])
            raise


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


class LoopSemaphore:
    """A concurrency limit that holds in whichever event loop is running.

    asyncio primitives belong to one loop, and ``run_sync`` may start several over an
    object's life, so each running loop gets its own semaphore of ``limit`` slots.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = \
            weakref.WeakKeyDictionary()

    def get(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._by_loop.get(loop)
        if semaphore is None:
            semaphore = self._by_loop[loop] = asyncio.Semaphore(self.limit)
        return semaphore
