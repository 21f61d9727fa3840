"""Executors: where batches of evaluations run.

Callers hand an executor an evaluator and an iterable of batches and consume
``(batch number, Evaluations)`` pairs *as batches complete* (so each result can be committed
at once). :class:`InProcessExecutor` runs batches one after another in this process;
:class:`LocalPoolExecutor` runs them in a pool of local worker processes. A cluster
executor only has to implement :meth:`Executor.run`; callers do not change:
:class:`~cimnet_bo.evaluate.ray_executor.RayExecutor` (``get_executor("ray")``, optional
``ray`` extra) runs batches on the actors of a Ray cluster.
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
import multiprocessing as mp
import pickle
from typing import Any, Iterable, Iterator, Mapping, Sequence

from cimnet_bo.evaluate.base import Evaluations, Evaluator

Batch = Sequence[Mapping[str, Any]]


class Executor(abc.ABC):
    """Runs batches of an evaluator; results come back as they complete."""

    @abc.abstractmethod
    def run(self, evaluator: Evaluator, batches: Iterable[Batch]) -> Iterator[tuple[int, Evaluations]]:
        """Evaluate each batch; yield ``(i, result)`` for batch ``i`` in completion order.

        Parameters
        ----------
        evaluator : Evaluator
        batches : iterable of list of dict
            Batch ``i`` holds ``n_i`` configurations.

        Yields
        ------
        (int, Evaluations)
            The batch number and its result (values ``n_i x m``). A batch whose worker died is
            returned with every candidate failed; the executor does not raise for it.
        """

    def map(self, evaluator: Evaluator, batches: Iterable[Batch]) -> list[Evaluations]:
        """All results, in batch order."""
        out = dict(self.run(evaluator, batches))
        return [out[i] for i in range(len(out))]

    def close(self) -> None:
        """Release workers (no-op by default)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Evaluates batches one after another in the calling process."""

    def run(self, evaluator: Evaluator, batches: Iterable[Batch]) -> Iterator[tuple[int, Evaluations]]:
        """Evaluate batches in order; see :meth:`Executor.run`."""
        for i, b in enumerate(batches):
            yield i, evaluator.evaluate(b)

    def __repr__(self) -> str:
        return "InProcessExecutor()"


# ------------------------------------------------------------------- process pool
_WORKER_EVALUATOR: Evaluator | None = None


def _init_worker(blob: bytes) -> None:
    global _WORKER_EVALUATOR
    _WORKER_EVALUATOR = pickle.loads(blob)


def _run_batch(batch: Batch) -> Evaluations:
    assert _WORKER_EVALUATOR is not None
    return _WORKER_EVALUATOR.evaluate(batch)


class LocalPoolExecutor(Executor):
    """Evaluates batches in a pool of local worker processes.

    Parameters
    ----------
    workers : int
        Number of worker processes.
    start_method : str
        ``"spawn"`` (default: safe with torch and threads) or ``"fork"`` / ``"forkserver"``.
    max_pending : int, optional
        Batches submitted ahead of completion (default ``2 * workers``), bounding memory.

    Notes
    -----
    The evaluator is pickled once per pool and installed in every worker (its caches start
    empty there), so it must be picklable: functions of a :class:`CallableEvaluator` must be
    defined at module level. A worker that dies fails the candidates of its batch and the
    pool is restarted for the remaining batches.
    """

    def __init__(self, workers: int = 2, start_method: str = "spawn", max_pending: int | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.start_method = start_method
        self.max_pending = max_pending
        self._pool: cf.ProcessPoolExecutor | None = None
        self._pool_for: int | None = None

    def __repr__(self) -> str:
        return f"LocalPoolExecutor(workers={self.workers}, start_method={self.start_method!r})"

    def _get_pool(self, evaluator: Evaluator) -> cf.ProcessPoolExecutor:
        if self._pool is None or self._pool_for != id(evaluator):
            self.close()
            blob = pickle.dumps(evaluator)
            self._pool = cf.ProcessPoolExecutor(
                self.workers, mp_context=mp.get_context(self.start_method), initializer=_init_worker, initargs=(blob,)
            )
            self._pool_for = id(evaluator)
        return self._pool

    def run(self, evaluator: Evaluator, batches: Iterable[Batch]) -> Iterator[tuple[int, Evaluations]]:
        """Evaluate batches in the pool, yielding them as they complete; see :meth:`Executor.run`."""
        limit = self.max_pending or 2 * self.workers
        it = iter(enumerate(batches))
        pending: dict[cf.Future, tuple[int, list]] = {}
        exhausted = False
        while True:
            while not exhausted and len(pending) < limit:
                try:
                    i, b = next(it)
                except StopIteration:
                    exhausted = True
                    break
                b = list(b)
                pending[self._get_pool(evaluator).submit(_run_batch, b)] = (i, b)
            if not pending:
                return
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            broken = False
            for fut in done:
                i, b = pending.pop(fut)
                try:
                    yield i, fut.result()
                except Exception as e:  # noqa: BLE001 - worker crash or unpicklable result
                    broken |= isinstance(e, cf.process.BrokenProcessPool)
                    res = Evaluations.empty(evaluator.names, len(b))
                    res.errors = [f"worker failed: {type(e).__name__}: {e}"] * len(b)
                    yield i, res
            if broken:  # every future of a broken pool fails: resubmit them to a fresh pool
                again = list(pending.values())
                pending.clear()
                self.close()
                for i, b in again:
                    pending[self._get_pool(evaluator).submit(_run_batch, b)] = (i, b)

    def close(self) -> None:
        """Shut the pool down (waits for running batches)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._pool_for = None


def get_executor(spec: Any = None, **options: Any) -> Executor:
    """An executor from a short spec.

    * None, 0, 1 or ``"inprocess"``: :class:`InProcessExecutor`;
    * an int ``k > 1``, ``"pool:k"`` or ``"pool"`` (``workers=`` option, default 2):
      :class:`LocalPoolExecutor`;
    * ``"ray"`` or ``"ray:ADDRESS"`` (``"ray:auto"``, ``"ray:ray://head:10001"``):
      :class:`~cimnet_bo.evaluate.ray_executor.RayExecutor` (needs the ``ray`` extra); ``options``
      are its parameters (``workers``, ``num_cpus``, ``num_gpus``, ``max_retries``, ...);
    * an Executor is returned as is.
    """
    if isinstance(spec, Executor):
        return spec
    if isinstance(spec, str) and (spec == "ray" or spec.startswith("ray:")):
        from cimnet_bo.evaluate.ray_executor import RayExecutor

        if spec.startswith("ray:"):
            options = {**options, "address": spec[4:]}
        return RayExecutor(**options)
    if spec == "pool":
        return LocalPoolExecutor(**options)
    if spec in (None, 0, 1, "inprocess", "0", "1"):
        _no_options(spec, options)
        return InProcessExecutor()
    if isinstance(spec, int):
        _no_options(spec, options)
        return LocalPoolExecutor(spec)
    if isinstance(spec, str) and spec.startswith("pool:"):
        _no_options(spec, options)
        return LocalPoolExecutor(int(spec.split(":", 1)[1]))
    if isinstance(spec, str) and spec.isdigit():
        _no_options(spec, options)
        return LocalPoolExecutor(int(spec))
    raise ValueError(
        f"unknown executor {spec!r}; use 'inprocess', 'pool:K', a number of workers, 'ray' or 'ray:ADDRESS'"
    )


def _no_options(spec: Any, options: Mapping[str, Any]) -> None:
    if options:
        raise ValueError(f"executor {spec!r} takes no options, got {sorted(options)}")
