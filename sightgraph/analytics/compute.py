"""Where the analytics' Dask jobs run (DESIGN §6).

By default Dask's threaded scheduler on this machine, one thread per core: no cluster start-up,
so a small job finishes well under a second, and the compiled kernels release the GIL. An
existing ``dask.distributed`` cluster is used when a scheduler address is given (``--scheduler``,
the ``scheduler`` argument, or the ``DASK_SCHEDULER_ADDRESS`` environment variable); its workers
must see the lake and the output directory on a shared filesystem.

Examples
--------
>>> import dask
>>> with resolve_scheduler(None) as sched:
...     sched.compute([dask.delayed(sum)([1, 2, 3])], "adding", progress=False)
[6]
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import dask
import dask.local
import dask.threaded
from dask.callbacks import Callback
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from sightgraph.errors import UsageError

__all__ = ["ENV_SCHEDULER", "Scheduler", "progress_bar", "resolve_scheduler", "spill_dir"]

ENV_SCHEDULER = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT_S = 5.0
_LOCAL_NAMES = {"threads": "threads", "threaded": "threads", "local": "threads"}
_SYNC_NAMES = {"sync", "synchronous", "single-threaded"}


def _count_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def progress_bar(enabled: bool = True) -> Progress:
    """A rich progress display; each phase of a job adds a task (a line) to it."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=False,
    )


@contextmanager
def _phase(progress: bool | Progress, description: str, total: int, unit: str = "tasks"):
    """(progress display, task id) for one phase: a line of a shared display, or its own."""
    if isinstance(progress, Progress):
        yield progress, progress.add_task(description, total=total, unit=unit)
        return
    with progress_bar(bool(progress)) as bar:
        yield bar, bar.add_task(description, total=total, unit=unit)


class _RichCallback(Callback):
    """Dask local-scheduler callback that drives a rich progress bar."""

    def __init__(self, bar: Progress, task_id: Any) -> None:
        super().__init__()
        self._bar = bar
        self._task_id = task_id

    def _start_state(self, dsk: Any, state: dict[str, Any]) -> None:
        total = sum(len(state[k]) for k in ("ready", "waiting", "running")) + len(state["finished"])
        self._bar.update(self._task_id, total=total, completed=len(state["finished"]))

    def _posttask(
        self, key: Any, result: Any, dsk: Any, state: dict[str, Any], worker_id: Any
    ) -> None:
        self._bar.update(self._task_id, completed=len(state["finished"]))


@dataclass
class Scheduler:
    """The scheduler that analytics jobs run on (see :func:`resolve_scheduler`).

    Attributes
    ----------
    kind : {'threads', 'sync', 'distributed'}
        Dask's threaded scheduler, its single-threaded one (debugging), or a distributed cluster.
    num_workers : int
        Threads (local) or the cluster's total worker threads.
    address : str or None
        The distributed scheduler's address.
    client : distributed.Client or None
        The connected client (distributed only).
    """

    kind: str
    num_workers: int
    address: str | None = None
    client: Any = None

    def run_everywhere(self, func: Callable[[], Any]) -> None:
        """Run ``func()`` here and, on a cluster, once in every worker process (e.g. warm-up)."""
        func()
        if self.client is not None:
            self.client.run(func)

    def start_everywhere(self, func: Callable[[], Any]) -> Callable[[], None]:
        """:meth:`run_everywhere`, this process's call in a background thread; returns
        ``wait()``, which blocks until it is done and raises its error, if any.

        For a warm-up that can overlap the first tasks (numba loading its cached kernels holds
        the GIL most of the time, reading Parquet does not). A cluster's workers run it before
        this returns, as with :meth:`run_everywhere` (a worker lost meanwhile is an error there,
        not in the middle of the tasks that Dask would re-run).
        """
        if self.client is not None:
            self.client.run(func)
        done: list[BaseException | None] = []

        def run() -> None:
            try:
                func()
            except BaseException as exc:  # handed to wait()
                done.append(exc)
            else:
                done.append(None)

        thread = threading.Thread(target=run, name="sightgraph-warm-up", daemon=True)
        thread.start()

        def wait() -> None:
            thread.join()
            if done and done[0] is not None:
                raise done[0]

        return wait

    def compute(
        self, tasks: Sequence[Any], description: str, progress: bool | Progress = True
    ) -> list[Any]:
        """Compute dask ``tasks`` (delayed objects) and return their results, in order.

        ``progress``: show a progress bar (``True``), not (``False``), or add a line to a
        shared display made by :func:`progress_bar`.
        """
        if not tasks:
            return []
        with _phase(progress, description, len(tasks)) as (bar, tid):
            if self.client is None:
                # a scheduler *function*: a name would make dask import distributed (~1 s)
                # to look for a default client
                with _RichCallback(bar, tid):
                    out = _compute_local(tasks, self.kind, self.num_workers)
                return list(out)
            futures = self._submit(tasks, bar, tid)
            return list(self.client.gather(futures))

    def persist(
        self, tasks: Sequence[Any], description: str, progress: bool | Progress = True
    ) -> list[Any]:
        """Like :meth:`compute`, but on a cluster the results stay on the workers.

        Returns the results themselves (local) or futures (distributed); either can be passed as
        arguments to further ``dask.delayed`` calls.
        """
        if not tasks:
            return []
        if self.client is None:
            return self.compute(tasks, description, progress)
        with _phase(progress, description, len(tasks)) as (bar, tid):
            futures = self._submit(tasks, bar, tid)
            for fut in futures:  # surface task errors here, with their own traceback
                if fut.status == "error":
                    fut.result()
            return futures

    def completed(
        self, tasks: Sequence[Any], description: str, progress: bool | Progress = True
    ) -> Generator[tuple[int, Any], None, None]:
        """Compute dask ``tasks``; yield ``(index, result)`` as each one finishes.

        On a cluster each task's future is released as soon as its result is yielded: a worker
        lost afterwards cannot make the scheduler run that task again behind the caller's back
        (it would, to restore a result that a client still holds). The first task error is
        raised (the other tasks are cancelled). Locally the tasks run in a background thread;
        closing the iterator early stops it from starting further tasks.
        """
        if not tasks:
            return
        with _phase(progress, description, len(tasks)) as (bar, tid):
            if self.client is None:
                yield from self._completed_local(tasks, bar, tid)
                return
            from distributed import as_completed

            futures = self.client.compute(list(tasks))
            index = {fut.key: i for i, fut in enumerate(futures)}
            done = as_completed(futures, loop=self.client.loop, with_results=True)
            pending = dict(enumerate(futures))
            del futures
            try:
                for fut, result in done:
                    i = index[fut.key]
                    del pending[i]
                    fut.release()
                    del fut
                    bar.advance(tid)
                    yield i, result
            finally:
                done.clear()
                if pending:
                    self.client.cancel(list(pending.values()))
                pending.clear()

    def _completed_local(
        self, tasks: Sequence[Any], bar: Progress, tid: Any
    ) -> Generator[tuple[int, Any], None, None]:
        index = {task.key: i for i, task in enumerate(tasks)}
        results: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        stop = threading.Event()
        outer = self

        class _Report(_RichCallback):
            def _pretask(self, key: Any, dsk: Any, state: dict[str, Any]) -> None:
                if stop.is_set():
                    raise _Stopped

            def _posttask(self, key, result, dsk, state, worker_id) -> None:
                super()._posttask(key, result, dsk, state, worker_id)
                if key in index:
                    results.put((index[key], result))

        def run() -> None:
            try:
                with _Report(bar, tid):
                    _compute_local(tasks, outer.kind, outer.num_workers)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                results.put((-1, exc))
            else:
                results.put((-1, None))

        thread = threading.Thread(target=run, name=f"dask-{tid}", daemon=True)
        thread.start()
        try:
            while True:
                i, result = results.get()
                if i < 0:
                    if result is not None and not isinstance(result, _Stopped):
                        raise result
                    return
                yield i, result
        finally:
            stop.set()
            thread.join()

    def _submit(self, tasks: Sequence[Any], bar: Progress, tid: Any) -> list[Any]:
        from distributed import as_completed

        futures = self.client.compute(list(tasks))
        for fut in as_completed(futures, loop=self.client.loop):
            if fut.status == "error":
                fut.result()
            bar.advance(tid)
        return futures


def _compute_local(tasks: Sequence[Any], kind: str, num_workers: int) -> tuple[Any, ...]:
    """``dask.compute`` on the synchronous or threaded scheduler, returning only once no task
    runs any more: on an error the threaded scheduler raises at once while tasks already running
    in its pool go on (and may still write scratch files the caller is about to remove), so the
    pool is our own and is shut down with ``wait=True``. Scheduler *functions*, not names: a
    name would make dask import distributed (~1 s) to look for a default client."""
    if kind == "sync":
        return dask.compute(*tasks, scheduler=dask.local.get_sync)
    pool = ThreadPoolExecutor(max_workers=max(num_workers, 1))
    try:
        return dask.compute(*tasks, scheduler=dask.threaded.get, num_workers=num_workers, pool=pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Stopped(Exception):
    """Raised by a local scheduler callback to stop starting tasks (the consumer left)."""


def _describe(source: str) -> str:
    return "--scheduler" if source == "argument" else f"${ENV_SCHEDULER}"


@contextmanager
def resolve_scheduler(scheduler: str | None = None) -> Iterator[Scheduler]:
    """Choose where Dask jobs run, for the duration of a ``with`` block.

    Parameters
    ----------
    scheduler : str, optional
        ``None`` (default): ``$DASK_SCHEDULER_ADDRESS`` if set, else the threaded scheduler with
        one thread per core. ``'threads'``: the threaded scheduler. ``'sync'``: Dask's
        single-threaded scheduler (debugging). Anything else is the address of a running
        ``dask.distributed`` scheduler, e.g. ``'tcp://10.0.0.5:8786'``.

    Yields
    ------
    Scheduler
        With ``compute``/``persist`` helpers that show a rich progress bar.

    Raises
    ------
    UsageError
        If the distributed scheduler cannot be reached within a few seconds (names the address).
    """
    source = "argument"
    name = (scheduler or "").strip()
    if not name:
        name = os.environ.get(ENV_SCHEDULER, "").strip()
        source = "environment"
    if not name or name.lower() in _LOCAL_NAMES:
        yield Scheduler(kind="threads", num_workers=_count_cores())
        return
    if name.lower() in _SYNC_NAMES:
        yield Scheduler(kind="sync", num_workers=1)
        return
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        raise UsageError(f"dask.distributed is not installed; cannot use scheduler {name}") from exc
    try:
        client = Client(name, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(
            f"cannot reach the Dask scheduler at {name} (from {_describe(source)}) "
            f"within {CONNECT_TIMEOUT_S:g} s: {reason}"
        ) from None
    try:
        nthreads = sum(client.nthreads().values()) or 1
        yield Scheduler(kind="distributed", num_workers=nthreads, address=name, client=client)
    finally:
        client.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def spill_dir(parent: str | os.PathLike[str], kind: str) -> str:
    """A new scratch directory ``.{kind}-{host}-{pid}-XXXX`` in ``parent`` (beside a job's output,
    so workers of a cluster see it); first removes the ones a job of this host left behind when
    it was killed (its process no longer runs). The caller removes its own when done.

    The path returned is absolute: it is handed to tasks, and a cluster's workers run in working
    directories of their own."""
    folder = Path(os.path.abspath(parent))
    folder.mkdir(parents=True, exist_ok=True)
    host = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname()) or "host"
    pattern = re.compile(rf"\.{re.escape(kind)}-{re.escape(host)}-(\d+)-")
    for old in folder.glob(f".{kind}-{host}-*"):
        m = pattern.match(old.name)
        if m and old.is_dir() and not _alive(int(m.group(1))):
            shutil.rmtree(old, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f".{kind}-{host}-{os.getpid()}-", dir=folder)


_T = TypeVar("_T")


def prefetched(items: Iterator[_T], name: str = "sightgraph-prefetch") -> Iterator[_T]:
    """Yield ``items`` while the next one is produced in a thread of its own.

    For a producer and a consumer that both release the GIL (numpy gathers, Parquet reads and
    writes): the two overlap. ``items`` is advanced by one thread at a time; an exception it
    raises comes out here, where the item would have."""
    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as pool:
        pending = pool.submit(next, items, done)
        while True:
            item = pending.result()
            if item is done:
                return
            pending = pool.submit(next, items, done)
            yield item  # type: ignore[misc]
