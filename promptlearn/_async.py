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
    nest, so the coroutine runs on a fresh loop in a worker thread instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coroutine(awaitable))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _as_coroutine(awaitable)).result()


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
