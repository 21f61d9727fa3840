"""Networks given as subnet configurations of a space, for
:func:`cimnet_bo.hardware.simulate_many`.

* :class:`TableCache`: layer tables of one space, built once per distinct configuration;
* :func:`batch_from_configs`: a :class:`~cimnet_bo.hardware.batch.TableBatch` of
  configurations (:func:`~cimnet_bo.hardware.vit_batch.vit_batch` for the ViT family, else
  one layer table per distinct configuration);
* :class:`SubnetConfigs`: configurations whose batches are built chunk by chunk.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from cimnet_bo.hardware.batch import TableBatch, n_configs
from cimnet_bo.hardware.vit_batch import vit_batch
from cimnet_bo.space import AnySpace, subnet_side
from cimnet_bo.workload.table import LayerTable


class TableCache:
    """Layer tables of one space, built once per distinct subnet configuration.

    ``cache.table(config)`` returns the :class:`LayerTable` (built with
    :func:`cimnet_bo.workload.layer_table` on first use); ``cache.tables(configs)`` a list in
    which equal configurations share one object, so :func:`simulate_many` pads each once.
    """

    def __init__(self, space: AnySpace, maxsize: int | None = 100_000) -> None:
        self.space = subnet_side(space)
        self.names = self.space.names
        self.maxsize = maxsize
        self._cache: dict[tuple, LayerTable] = {}

    def key(self, config: Mapping[str, Any]) -> tuple:
        return tuple(config.get(n) for n in self.names)

    def table(self, config: Mapping[str, Any]) -> LayerTable:
        from cimnet_bo.workload import layer_table

        k = self.key(config)
        t = self._cache.get(k)
        if t is None:
            t = layer_table(self.space, config)
            if self.maxsize is None or len(self._cache) < self.maxsize:
                self._cache[k] = t
        return t

    def tables(self, configs: Sequence[Mapping[str, Any]]) -> list[LayerTable]:
        return [self.table(c) for c in configs]


def batch_from_configs(
    space: AnySpace, configs: Sequence[Mapping[str, Any]], cache: TableCache | None = None
) -> tuple[TableBatch, np.ndarray]:
    """``(batch, index)`` for subnet configurations of a registered space: pair i's network is
    ``batch`` row ``index[i]``. ViT-family spaces use :func:`vit_batch` (one row per
    configuration); others build each distinct configuration's table once."""
    sub = subnet_side(space)
    if sub.family == "vit":
        b = vit_batch(sub, configs)
        return b, np.arange(len(b))
    cache = cache or TableCache(sub)
    if isinstance(configs, Mapping):  # choice name -> values: one dict per configuration
        n = n_configs(configs)
        cols = {k: np.broadcast_to(np.asarray(v), (n,)).tolist() for k, v in configs.items()}
        configs = [dict(zip(cols, vals)) for vals in zip(*cols.values())]
    keys = [cache.key(c) for c in configs]
    first: dict[tuple, int] = {}
    index = np.fromiter((first.setdefault(k, len(first)) for k in keys), dtype=np.int64, count=len(keys))
    uniq_cfg = [None] * len(first)
    for k, i in first.items():
        uniq_cfg[i] = dict(zip(cache.names, k))
    return TableBatch.from_tables([cache.table(c) for c in uniq_cfg]), index


class SubnetConfigs:
    """Networks given as subnet configurations of a space, for :func:`simulate_many`.

    Their padded batches are built chunk by chunk (:func:`vit_batch` for the ViT family,
    else one layer table per distinct configuration, cached across chunks), so memory stays
    bounded however many pairs there are.
    """

    def __init__(self, space: AnySpace, configs: Sequence[Mapping[str, Any]], cache: TableCache | None = None) -> None:
        self.space = subnet_side(space)
        self.configs = configs
        self.cache = cache if cache is not None or self.space.family == "vit" else TableCache(self.space)

    def __len__(self) -> int:
        return n_configs(self.configs)

    def run_starts(self, probe: int = 4096, min_run: int = 64) -> np.ndarray | None:
        """Where runs of one repeated configuration start (a search evaluates one subnet on
        many chips), or None when the first ``probe`` configurations do not come in runs of
        ``min_run`` or more on average. Consecutive configurations are equal when all their
        values are (arrays), or when they are the same object (a list of dicts)."""
        n = len(self)

        def starts(lo: int, hi: int) -> np.ndarray:
            if isinstance(self.configs, Mapping):
                change = np.zeros(max(hi - lo - 1, 0), dtype=bool)
                for v in self.configs.values():
                    v = np.asarray(v)
                    if v.ndim:
                        change |= v[lo + 1 : hi] != v[lo : hi - 1]
            else:
                ids = np.fromiter(map(id, self.configs[lo:hi]), dtype=np.int64, count=hi - lo)
                change = ids[1:] != ids[:-1]
            return lo + 1 + np.flatnonzero(change)

        k = min(n, probe)
        if n < 2 or (len(starts(0, k)) + 1) * min_run > k:
            return None
        return np.concatenate(([0], starts(0, n)))

    def batch(self, lo: int, hi: int) -> tuple[TableBatch, np.ndarray]:
        """``(batch, index)`` of configurations lo..hi-1 (see :func:`batch_from_configs`)."""
        part = (
            self.configs[lo:hi]
            if not isinstance(self.configs, Mapping)
            else {k: np.asarray(v)[lo:hi] for k, v in self.configs.items()}
        )
        return batch_from_configs(self.space, part, self.cache)
