"""The Ray executor: batches of evaluations on a Ray cluster (or a local Ray instance).

:class:`RayExecutor` implements :class:`~cimnet_bo.evaluate.executors.Executor`, so labeling
and search use it unchanged (``get_executor("ray")``, ``--executor ray`` on the command line).

* **Connecting.** ``address=None`` follows ``ray.init()``: the cluster named by ``RAY_ADDRESS``
  or started on this machine with ``ray start``, else a new local instance (stopped again by
  :meth:`RayExecutor.close`). ``"auto"`` requires a running cluster on this machine; a
  ``"ray://host:10001"`` address connects through Ray Client. A Ray that this process has
  initialised already is used as it is.
* **Workers** are Ray actors, each holding the evaluator: it is serialised once, put in the
  object store, and loaded once per actor (a supernet's weights are read by the actor's first
  batch and kept). Each actor reserves ``num_cpus`` CPUs and ``num_gpus`` GPUs (and optional
  custom ``resources``) for as long as it lives.
* **Results** come back as each batch completes, so the caller commits them at once.
* **Failures.** A batch whose actor dies (killed, out of memory, node lost) is sent again to a
  fresh actor, up to ``max_retries`` times; after that its candidates are returned failed.
  An evaluator raising inside a batch fails that batch's candidates without retry (evaluators
  record per-candidate failures themselves, so this means a bug). An actor that cannot even
  load the evaluator stops the run with :class:`RuntimeError` (retrying would fail the same way).

Ray is an optional dependency: without it, creating the executor raises
:class:`RayNotInstalledError` with the install command.
"""

from __future__ import annotations

import collections
import itertools
import logging
import math
import os
import time
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from cimnet_bo.core import CimnetError
from cimnet_bo.evaluate.base import Evaluations, Evaluator
from cimnet_bo.evaluate.executors import Batch, Executor

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'cimnet-bo[ray]'"


class RayNotInstalledError(CimnetError, ImportError):
    """The Ray executor was chosen but Ray is not installed."""


def import_ray() -> Any:
    """The ``ray`` module, or :class:`RayNotInstalledError` naming the install command."""
    try:
        import ray
    except ImportError as e:
        raise RayNotInstalledError(
            "the Ray executor needs Ray, an optional dependency of cimnet-bo that is not installed "
            f"({e}). Install it with:  {INSTALL_HINT}   (in a source checkout: pip install -e '.[ray]')"
        ) from e
    return ray


class _Worker:
    """The body of an evaluation actor: holds one evaluator and evaluates batches."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def evaluate(self, batch: list[dict[str, Any]]) -> Evaluations:
        return self.evaluator.evaluate(batch)

    def where(self) -> dict[str, Any]:
        """``{"pid", "node_id"}`` of this actor (for tests and logs)."""
        import ray

        return {"pid": os.getpid(), "node_id": ray.get_runtime_context().get_node_id()}


_ACTOR_CLASS = None


def _actor_class(ray: Any) -> Any:
    global _ACTOR_CLASS
    if _ACTOR_CLASS is None:
        _ACTOR_CLASS = ray.remote(_Worker)
    return _ACTOR_CLASS


class RayExecutor(Executor):
    """Evaluates batches on Ray actors, yielding each batch as it completes.

    Parameters
    ----------
    address : str, optional
        ``None`` (``RAY_ADDRESS``, a cluster started on this machine, else a new local
        instance), ``"auto"`` (a running cluster on this machine), ``"ray://HOST:10001"`` (Ray
        Client), ``"HOST:6379"`` (the head node's address, from a node of the cluster) or
        ``"local"`` (always a new local instance).
    workers : int, optional
        Number of actors. Default: as many as the cluster's resources hold
        (``CPU // num_cpus``, and ``GPU // num_gpus`` when GPUs are asked for), at least 1.
    num_cpus, num_gpus : float
        Resources each actor reserves (default 1 CPU, no GPU). A GPU actor sees its GPU(s)
        through ``CUDA_VISIBLE_DEVICES``; give the evaluator ``device="cuda"``.
    resources : dict, optional
        Custom resources per actor (e.g. ``{"big_memory": 1}``, as declared by
        ``ray start --resources``).
    max_retries : int
        Times a batch is sent again after its actor died, before its candidates are failed.
    max_pending : int, optional
        Batches queued on each actor ahead of completion (default 2: the next batch is
        already there when one finishes).
    runtime_env : dict, optional
        Ray runtime environment of the actors (e.g. ``{"pip": [...]}``,
        ``{"env_vars": {...}}``).
    init_kwargs : dict, optional
        More arguments of ``ray.init`` (used only when this executor connects).
    stall_warning_s : float
        Log a warning when no batch completes for this long (e.g. actors waiting for
        resources the cluster does not have).

    Attributes
    ----------
    stats : dict
        ``batches`` (results yielded), ``retries`` (batches sent again), ``failed_batches``
        (given up after ``max_retries``), ``actors_started``, ``actors_replaced``.

    Notes
    -----
    Every node needs cimnet-bo (and Ray of the same version as the driver) installed, and any
    file the evaluator reads (a supernet checkpoint, the data splits) at the same path.
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        num_cpus: float = 1,
        num_gpus: float = 0,
        resources: Mapping[str, float] | None = None,
        max_retries: int = 2,
        max_pending: int | None = None,
        runtime_env: Mapping[str, Any] | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        stall_warning_s: float = 300.0,
    ) -> None:
        import_ray()  # fail now, with the install command, rather than at the first batch
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if num_cpus < 0 or num_gpus < 0:
            raise ValueError(f"num_cpus and num_gpus must be >= 0, got {num_cpus}, {num_gpus}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if max_pending is not None and max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        self.address = address
        self.workers = workers
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.resources = dict(resources) if resources else None
        self.max_retries = max_retries
        self.max_pending = max_pending
        self.runtime_env = dict(runtime_env) if runtime_env else None
        self.init_kwargs = dict(init_kwargs or {})
        self.stall_warning_s = stall_warning_s
        self.stats = {"batches": 0, "retries": 0, "failed_batches": 0, "actors_started": 0, "actors_replaced": 0}
        self._owns_ray = False
        self._actors: list[Any] = []
        self._actors_for: int | None = None
        self._evaluator_ref: Any = None

    def __repr__(self) -> str:
        return (
            f"RayExecutor(address={self.address!r}, workers={self.workers}, num_cpus={self.num_cpus}, "
            f"num_gpus={self.num_gpus}, max_retries={self.max_retries})"
        )

    # ------------------------------------------------------------------ cluster
    @property
    def actors(self) -> list[Any]:
        """The current actor handles (one per worker), empty before the first batch."""
        return list(self._actors)

    def connect(self) -> None:
        """Connect to the cluster (or start the local instance) now rather than at the first
        batch; raises ``ConnectionError`` with hints when the cluster cannot be reached."""
        self._connect()

    def _connect(self) -> Any:
        ray = import_ray()
        if not ray.is_initialized():
            kw = dict(self.init_kwargs)
            if self.address in (None, "local"):
                kw.setdefault("include_dashboard", False)
            try:
                ray.init(address=self.address, **kw)
            except ConnectionError as e:
                raise ConnectionError(
                    f"{str(e).rstrip('.')}. Is the cluster up (`ray status` on its head node) and is the "
                    "address right (`auto` on a node of the cluster, `ray://HEAD:10001` from elsewhere)? "
                    "A cluster with token authentication also needs RAY_AUTH_MODE=token and its token "
                    "(~/.ray/auth_token or RAY_AUTH_TOKEN) here"
                ) from e
            self._owns_ray = True
        return ray

    def _n_workers(self, ray: Any) -> int:
        if self.workers is not None:
            return self.workers
        res = ray.cluster_resources()
        n = math.inf
        if self.num_cpus > 0:
            n = min(n, res.get("CPU", 0) // self.num_cpus)
        if self.num_gpus > 0:
            n = min(n, res.get("GPU", 0) // self.num_gpus)
        for k, v in (self.resources or {}).items():
            if v > 0:
                n = min(n, res.get(k, 0) // v)
        return int(max(1, n if n != math.inf else res.get("CPU", 1)))

    def _new_actor(self, ray: Any) -> Any:
        opts: dict[str, Any] = {
            "num_cpus": self.num_cpus,
            "num_gpus": self.num_gpus,
            "max_restarts": 0,
            "max_task_retries": 0,
        }
        if self.resources:
            opts["resources"] = self.resources
        if self.runtime_env:
            opts["runtime_env"] = self.runtime_env
        self.stats["actors_started"] += 1
        return _actor_class(ray).options(**opts).remote(self._evaluator_ref)

    def _ensure_actors(self, ray: Any, evaluator: Evaluator) -> None:
        if self._actors and self._actors_for == id(evaluator):
            return
        self._kill_actors(ray)
        self._evaluator_ref = ray.put(evaluator)  # serialised once for every actor
        self._actors = [self._new_actor(ray) for _ in range(self._n_workers(ray))]
        self._actors_for = id(evaluator)

    def _kill_actors(self, ray: Any) -> None:
        for a in self._actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001 - already dead, or the cluster went away
                pass
        self._actors = []
        self._actors_for = None
        self._evaluator_ref = None

    # ------------------------------------------------------------------ running
    def run(self, evaluator: Evaluator, batches: Iterable[Batch]) -> Iterator[tuple[int, Evaluations]]:
        """Evaluate batches on the actors, yielding each as it completes; see :meth:`Executor.run`."""
        ray = self._connect()
        from ray.exceptions import (
            ActorUnschedulableError,
            ObjectLostError,
            OwnerDiedError,
            RayActorError,
            RayTaskError,
            WorkerCrashedError,
        )

        retryable = (RayActorError, WorkerCrashedError, ObjectLostError, OwnerDiedError, ActorUnschedulableError)
        try:
            from ray.exceptions import NodeDiedError

            retryable = retryable + (NodeDiedError,)
        except ImportError:  # pragma: no cover - older Ray
            pass

        it = iter(enumerate(batches))
        first = next(it, None)
        if first is None:  # nothing to evaluate: start no worker
            return
        it = itertools.chain([first], it)
        self._ensure_actors(ray, evaluator)
        depth = self.max_pending or 2
        exhausted = False
        retry: collections.deque[tuple[int, list]] = collections.deque()
        attempts: dict[int, int] = collections.defaultdict(int)
        load = [0] * len(self._actors)
        pending: dict[Any, tuple[int, list, int, Any]] = {}  # ref -> (batch, configs, slot, actor)
        done: set[int] = set()
        last_progress = time.monotonic()
        warned = False

        def next_batch() -> tuple[int, list] | None:
            nonlocal exhausted
            if retry:
                return retry.popleft()
            if exhausted:
                return None
            try:
                i, b = next(it)
            except StopIteration:
                exhausted = True
                return None
            return i, list(b)

        while True:
            while True:  # hand batches out one at a time, to the least loaded actor
                slot = min(range(len(self._actors)), key=lambda s: load[s])
                if load[slot] >= depth:
                    break
                nb = next_batch()
                if nb is None:
                    break
                i, b = nb
                actor = self._actors[slot]
                pending[actor.evaluate.remote(b)] = (i, b, slot, actor)
                load[slot] += 1
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=min(30.0, self.stall_warning_s))
            if not ready:
                if not warned and time.monotonic() - last_progress > self.stall_warning_s:
                    log.warning(
                        "no batch finished for %.0f s (%d pending on %d actor(s)); `ray status` shows "
                        "whether the cluster has the resources asked for (num_cpus=%s, num_gpus=%s)",
                        time.monotonic() - last_progress,
                        len(pending),
                        len(self._actors),
                        self.num_cpus,
                        self.num_gpus,
                    )
                    warned = True
                continue
            last_progress, warned = time.monotonic(), False
            for ref in ready:
                i, b, slot, actor = pending.pop(ref)
                load[slot] -= 1
                try:
                    res = _own(ray.get(ref))
                except retryable as e:
                    if isinstance(e, RayActorError) and getattr(e, "actor_init_failed", False):
                        raise RuntimeError(
                            f"a Ray worker could not load the evaluator {evaluator!r} (is cimnet-bo installed on "
                            f"every node, with the evaluator's files at the same paths?): {e}"
                        ) from e
                    if self._actors[slot] is actor:  # first failure seen from this actor: replace it
                        try:
                            ray.kill(actor, no_restart=True)
                        except Exception:  # noqa: BLE001
                            pass
                        self._actors[slot] = self._new_actor(ray)
                        self.stats["actors_replaced"] += 1
                    attempts[i] += 1
                    if attempts[i] <= self.max_retries:
                        self.stats["retries"] += 1
                        log.warning(
                            "batch %d: worker lost (%s); retry %d of %d",
                            i,
                            type(e).__name__,
                            attempts[i],
                            self.max_retries,
                        )
                        retry.append((i, b))
                        continue
                    self.stats["failed_batches"] += 1
                    res = _failed(
                        evaluator, len(b), f"Ray worker lost {attempts[i]} times ({type(e).__name__}: {_first_line(e)})"
                    )
                except RayTaskError as e:  # the evaluator raised through evaluate(): not retried
                    cause = getattr(e, "cause", None) or e
                    res = _failed(evaluator, len(b), f"Ray worker failed: {type(cause).__name__}: {_first_line(cause)}")
                if i in done:  # cannot happen: a batch is in flight once at a time
                    continue
                done.add(i)
                self.stats["batches"] += 1
                yield i, res

    def close(self) -> None:
        """Kill the actors; stop Ray when this executor started it."""
        try:
            import ray
        except ImportError:  # pragma: no cover
            return
        if ray.is_initialized():
            self._kill_actors(ray)
            if self._owns_ray:
                ray.shutdown()
        self._owns_ray = False


def _own(res: Evaluations) -> Evaluations:
    """A copy whose arrays are writable and do not pin Ray's object store."""
    return Evaluations(
        tuple(res.names),
        np.array(res.values, dtype=np.float64),
        list(res.errors),
        {k: np.array(v) for k, v in res.extras.items()},
    )


def _failed(evaluator: Evaluator, n: int, text: str) -> Evaluations:
    res = Evaluations.empty(evaluator.names, n)
    res.errors = [text] * n
    return res


def _first_line(e: BaseException) -> str:
    lines = [s for s in str(e).strip().splitlines() if s.strip()]
    return lines[0][:300] if lines else type(e).__name__
