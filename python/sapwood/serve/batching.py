"""Micro-batching: concurrent requests scored together, off the event loop.

A request on an idle server (nothing queued, no batch in flight, no other request being
read or arriving in the same event-loop turn) with at most ``inline_rows`` rows is scored at
once on the event loop: a predict of a few rows takes tens of microseconds (the GIL is
released inside), less than a hop to a thread would add, and there is nothing to wait for.

Otherwise the request is queued. One dispatcher task waits for a free slot (at most
``slots`` predict calls run at once, each in a worker thread); while the slots are busy the
queue fills, so load itself forms the batches. While another batch is in flight or more
requests are being read, a batch smaller than ``max_batch_rows`` also waits up to
``max_wait`` seconds (from its oldest request) for company. A batch takes queued requests in order that share the model, output and column
layout, up to ``max_batch_rows`` rows (a larger request is scored alone), concatenates them
into one predict call, and hands each request its rows. If a batch fails, its requests are
scored one by one, so that one bad request never fails the others.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .inputs import Block, concat, predict_input
from .model import ServedModel

__all__ = ["Batcher"]

# (model, block, output, result, requests in the batch, seconds in predict)
BatchHook = Callable[[ServedModel, Block, str, np.ndarray, int, float], None]


@dataclass
class _Item:
    model: ServedModel
    block: Block
    output: str
    future: asyncio.Future[np.ndarray]
    enqueued: float

    @property
    def key(self) -> tuple[int, str, tuple[bool, ...]]:
        return id(self.model), self.output, self.block.signature


def score(model: ServedModel, block: Block, output: str) -> np.ndarray:
    """``Booster.predict`` of ``block``'s rows (thread-safe; releases the GIL)."""
    X = predict_input(block, model.features)
    return np.asarray(model.booster.predict(X, output=output))


class Batcher:
    """Gathers requests into predict calls; see the module docstring."""

    def __init__(self, *, max_batch_rows: int = 1024, max_wait: float = 0.002,
                 slots: int = 2, inline_rows: int = 16,
                 on_batch: BatchHook | None = None) -> None:
        self.max_batch_rows = max(1, int(max_batch_rows))
        self.max_wait = max(0.0, float(max_wait))
        self.slots = max(1, int(slots))
        self.inline_rows = max(0, int(inline_rows))
        self.on_batch = on_batch
        self.executor = ThreadPoolExecutor(max_workers=self.slots,
                                           thread_name_prefix="sapwood-predict")
        self._queue: collections.deque[_Item] = collections.deque()
        self._wakeup = asyncio.Event()
        self._busy = 0
        self._arriving = 0
        self._deciding = 0  # lone requests yielding once before scoring inline
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # ---------------------------------------------------------------- requests being read
    def arriving(self, delta: int) -> None:
        """The app counts requests whose bodies are being read (+1 on entry, -1 before
        submit), so that a busy dispatcher knows more requests are on their way."""
        self._arriving += delta
        if delta < 0:
            self._wakeup.set()

    @property
    def idle(self) -> bool:
        return self._busy == 0 and not self._queue and self._arriving == 0

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self, timeout: float = 30.0) -> None:
        """Score what is queued, wait for batches in flight, then stop."""
        self._closed = True
        deadline = time.monotonic() + timeout
        while (self._queue or self._busy) and time.monotonic() < deadline:
            self._wakeup.set()
            await asyncio.sleep(0.005)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self.executor.shutdown(wait=True)

    # ---------------------------------------------------------------- scoring
    async def submit(self, model: ServedModel, block: Block, output: str) -> np.ndarray:
        """The rows of ``block`` scored by ``model`` (as ``Booster.predict(X, output)``)."""
        if self.idle and block.num_rows <= self.inline_rows:
            # Requests whose bytes came in together are tasks that are ready to run but have
            # not started: yield once so that they reach this point too, then score alone
            # only if none did.
            self._deciding += 1
            try:
                await asyncio.sleep(0)
            finally:
                self._deciding -= 1
            if self.idle and self._deciding == 0:
                t0 = time.perf_counter()
                res = score(model, block, output)
                self._hook(model, block, output, res, 1, time.perf_counter() - t0)
                return res
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[np.ndarray] = loop.create_future()
        self._queue.append(_Item(model, block, output, fut, loop.time()))
        self._wakeup.set()
        if self._task is None:
            self.start()
        return await fut

    def _hook(self, model: ServedModel, block: Block, output: str, res: np.ndarray,
              n: int, secs: float) -> None:
        if self.on_batch is not None:
            self.on_batch(model, block, output, res, n, secs)

    async def _wait(self, timeout: float | None = None) -> bool:
        self._wakeup.clear()
        try:
            if timeout is None:
                await self._wakeup.wait()
            else:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def _queued_rows(self) -> int:
        return sum(i.block.num_rows for i in self._queue)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                await self._wait()
            while self._busy >= self.slots:
                await self._wait()
            if not self._queue:
                continue
            # A busy server: let a small batch wait a little for company.
            deadline = self._queue[0].enqueued + self.max_wait
            while (self.max_wait > 0 and not self._closed
                   and (self._busy > 0 or self._arriving > 0)
                   and self._queued_rows() < self.max_batch_rows):
                left = deadline - loop.time()
                if left <= 0 or not await self._wait(left):
                    break
            batch = self._take()
            if not batch:
                continue
            self._busy += 1
            loop.create_task(self._dispatch(batch))

    def _take(self) -> list[_Item]:
        first = None
        while self._queue and first is None:
            it = self._queue.popleft()
            if not it.future.done():  # a client that went away needs no scoring
                first = it
        if first is None:
            return []
        batch, rows, keep = [first], first.block.num_rows, []
        while self._queue and rows < self.max_batch_rows:
            it = self._queue.popleft()
            if it.future.done():
                continue
            if it.key != first.key or rows + it.block.num_rows > self.max_batch_rows:
                keep.append(it)
                continue
            batch.append(it)
            rows += it.block.num_rows
        self._queue.extendleft(reversed(keep))
        return batch

    async def _dispatch(self, batch: list[_Item]) -> None:
        loop = asyncio.get_running_loop()
        model, output = batch[0].model, batch[0].output
        try:
            block = concat([i.block for i in batch])
            t0 = time.perf_counter()
            try:
                res = await loop.run_in_executor(self.executor, score, model, block, output)
            except Exception as e:  # noqa: BLE001 - handed to the request(s) below
                if len(batch) == 1:
                    _set_exception(batch[0].future, e)
                    return
                await self._one_by_one(batch)
                return
            secs = time.perf_counter() - t0
            a = 0
            for it in batch:
                b = a + it.block.num_rows
                if not it.future.done():
                    it.future.set_result(res[a:b])
                a = b
            try:
                self._hook(model, block, output, res, len(batch), secs)
            except Exception:  # noqa: BLE001, S110 - metrics must never fail a request
                pass
        finally:
            self._busy -= 1
            self._wakeup.set()

    async def _one_by_one(self, batch: list[_Item]) -> None:
        loop = asyncio.get_running_loop()
        for it in batch:
            t0 = time.perf_counter()
            try:
                res = await loop.run_in_executor(self.executor, score, it.model, it.block,
                                                 it.output)
            except Exception as e:  # noqa: BLE001
                _set_exception(it.future, e)
                continue
            if not it.future.done():
                it.future.set_result(res)
            try:
                self._hook(it.model, it.block, it.output, res, 1, time.perf_counter() - t0)
            except Exception:  # noqa: BLE001, S110
                pass


def _set_exception(fut: asyncio.Future[Any], e: BaseException) -> None:
    if not fut.done():
        fut.set_exception(e)
