"""The predictor interface (scikit-learn style) and saving / loading.

A predictor of one objective of a space: ``fit(configs, y)``, ``predict(configs)``,
``save(path)``, ``load(path)``. Parameters go to ``__init__`` and no work happens there.
Saved predictors are two files: ``NAME.json`` (metadata: class, space, objective, feature
layout, parameters, training size, library versions) and ``NAME.model.<ext>`` (the fitted
model: XGBoost JSON, a torch state file, or a pickled scikit-learn estimator).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from cimnet_bo.core import Registry
from cimnet_bo.hardware.version import check_model_version, model_version_meta
from cimnet_bo.moo import LOG_TARGETS
from cimnet_bo.predictors.features import FeatureBuilder
from cimnet_bo.space import AnySpace, as_space, space_from_meta

FORMAT = "cimnet_bo.predictor/1"
#: Objectives that depend on the subnet only (their predictors see no hardware features).
SUBNET_OBJECTIVES = ("accuracy", "top1", "acc", "params", "macs")
#: 0/1 indicator outputs (the roofline's ``feasible``): exact constraints, not regression
#: targets; ``train_predictors`` skips them unless asked by name.
INDICATOR_OUTPUTS = ("feasible",)

#: Registered predictor classes by short name (``xgb``, ``ridge``, ``svr``, ``mlp``, ``gp``).
#: ``@PREDICTORS.register(name)`` sets the class's ``kind``.
PREDICTORS: Registry[type] = Registry("predictor", modules=("cimnet_bo.predictors",), attribute="kind")


class Predictor:
    """Base class of predictors of one objective.

    Parameters
    ----------
    space : JointSpace, Space or str
    objective : str
        Column name of the target (``"accuracy"``, ``"latency_s"``).
    log_target : bool, optional
        Learn ``log(y)`` (predictions are exponentiated back). Default: True for
        :data:`~cimnet_bo.moo.LOG_TARGETS`.
    hardware : bool, optional
        Use hardware features. Default: False for :data:`SUBNET_OBJECTIVES`, else True.
    seed : int
        Random seed of the fit.
    """

    kind = "base"
    #: Feature set (see :mod:`cimnet_bo.predictors.features`).
    feature_kind = "xgb"

    def __init__(
        self,
        space: AnySpace,
        objective: str,
        log_target: bool | None = None,
        hardware: bool | None = None,
        seed: int = 0,
    ) -> None:
        self.space = space
        self.objective = objective
        self.log_target = log_target
        self.hardware = hardware
        self.seed = seed

    # ---------------------------------------------------------- configuration
    def _init_params(self) -> dict[str, Any]:
        """Constructor arguments other than space and objective (saved with the model)."""
        return {"log_target": self.log_target, "hardware": self.hardware, "seed": self.seed}

    @property
    def use_log(self) -> bool:
        """Whether the target is learned as log(y)."""
        return self.objective in LOG_TARGETS if self.log_target is None else bool(self.log_target)

    @property
    def use_hardware(self) -> bool:
        """Whether hardware features are used."""
        return self.objective not in SUBNET_OBJECTIVES if self.hardware is None else bool(self.hardware)

    def _builder(self) -> FeatureBuilder:
        fb = getattr(self, "_fb", None)
        if fb is None:
            self.space_ = as_space(self.space)
            fb = FeatureBuilder(self.space_, self.feature_kind, hardware=self.use_hardware, **self._feature_options())
            self._fb = fb
        return fb

    def _feature_options(self) -> dict[str, Any]:
        return {}

    def features(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Feature matrix (n x f) of configurations."""
        return self._builder().transform(configs)

    # --------------------------------------------------------------- public
    def fit(self, configs: Sequence[Mapping[str, Any]], y: Any) -> "Predictor":
        """Fit on ``n`` configurations and targets ``y`` (n,); returns self."""
        configs = list(configs)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if len(configs) != y.size:
            raise ValueError(f"{len(configs)} configurations but {y.size} targets")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"targets of {self.objective!r} contain {int(np.sum(~np.isfinite(y)))} non-finite values")
        if self.use_log:
            if np.any(y <= 0):
                raise ValueError(f"log_target needs positive {self.objective!r}; {int(np.sum(y <= 0))} values are <= 0")
            y = np.log(y)
        X = self.features(configs)
        t0 = time.perf_counter()
        self._fit(X, y)
        self.fit_seconds_ = time.perf_counter() - t0
        self.n_train_ = len(configs)
        self.feature_names_ = self._builder().names
        return self

    def predict(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Predicted objective of ``n`` configurations, array (n,) in the objective's unit."""
        if not hasattr(self, "n_train_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() or load()")
        configs = list(configs)
        if not configs:
            return np.empty(0)
        out = np.asarray(self._predict(self.features(configs)), dtype=np.float64).reshape(-1)
        return np.exp(out) if self.use_log else out

    def score(self, configs: Sequence[Mapping[str, Any]], y: Any) -> dict[str, float]:
        """Held-out metrics (see :func:`cimnet_bo.predictors.metrics.regression_report`)."""
        from cimnet_bo.predictors.metrics import regression_report

        return regression_report(y, self.predict(configs))

    # ------------------------------------------------------------- save/load
    model_suffix = ".bin"

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (metadata JSON; ``.json`` is appended if missing) and the model file
        beside it; returns the metadata path."""
        if not hasattr(self, "n_train_"):
            raise RuntimeError("fit the predictor before saving it")
        meta_path = _meta_path(path)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        model_path = meta_path.with_name(meta_path.name[: -len(".json")] + ".model" + self.model_suffix)
        self._save_model(model_path)
        sp = self._builder().space
        meta = {
            "format": FORMAT,
            "kind": self.kind,
            "class": type(self).__name__,
            "objective": self.objective,
            "init": self._init_params(),
            "features": {"kind": self.feature_kind, **self._builder().to_dict()},
            "feature_names": self.feature_names_,
            "log_target": self.use_log,
            "space": sp.name,
            "space_version": sp.version,
            "space_def": sp.to_dict(),
            "n_train": self.n_train_,
            "fit_seconds": round(self.fit_seconds_, 4),
            "created": time.time(),
            "model_file": model_path.name,
            "versions": _versions(),
            **model_version_meta(sp),
        }
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        return meta_path

    @classmethod
    def load(cls, path: str | Path, space: AnySpace | None = None) -> "Predictor":
        """A saved predictor (any registered class when called on :class:`Predictor`).

        Parameters
        ----------
        path : str or Path
            The metadata JSON written by :meth:`save`.
        space : optional
            Override the space (default: the registered space of that name and version, else
            the description stored in the file).
        """
        meta_path = _meta_path(path)
        if not meta_path.exists():
            raise FileNotFoundError(f"predictor metadata {meta_path} not found")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{meta_path} is not a cimnet_bo predictor (format {meta.get('format')!r})")
        klass = PREDICTORS.get(meta["kind"])
        if klass is None:
            raise ValueError(f"{meta_path}: unknown predictor kind {meta['kind']!r}; known: {sorted(PREDICTORS)}")
        if cls is not Predictor and not issubclass(klass, cls):
            raise ValueError(f"{meta_path} holds a {meta['class']}, not a {cls.__name__}")
        sp = space if space is not None else space_from_meta(meta, str(meta_path))
        check_model_version(meta, as_space(sp), f"predictor {meta_path}")
        obj = klass(sp, meta["objective"], **{**meta["init"], "log_target": meta.get("log_target")})
        obj.space_ = as_space(sp)
        names = obj._builder().names
        if names != meta["feature_names"]:
            raise ValueError(
                f"{meta_path}: the space's features differ from the saved ones "
                f"({len(names)} vs {len(meta['feature_names'])} columns)"
            )
        obj._load_model(meta_path.with_name(meta["model_file"]))
        obj.n_train_ = meta["n_train"]
        obj.fit_seconds_ = meta.get("fit_seconds", float("nan"))
        obj.feature_names_ = meta["feature_names"]
        return obj

    # ------------------------------------------------------------ subclasses
    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def _predict(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _save_model(self, path: Path) -> None:
        raise NotImplementedError

    def _load_model(self, path: Path) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        sp = self.space if isinstance(self.space, str) else getattr(self.space, "name", "?")
        return f"{type(self).__name__}({sp!r}, {self.objective!r})"


def _meta_path(path: str | Path) -> Path:
    p = Path(path)
    return p if p.suffix == ".json" else p.with_name(p.name + ".json")


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("cimnet-bo", "xgboost-cpu", "xgboost", "scikit-learn", "torch", "botorch", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def load_predictor(path: str | Path, space: AnySpace | None = None) -> Predictor:
    """Load any saved predictor (see :meth:`Predictor.load`)."""
    return Predictor.load(path, space)


def make_predictor(kind: str, space: AnySpace, objective: str, **params: Any) -> Predictor:
    """A predictor of a registered kind (``xgb``, ``ridge``, ``svr``, ``mlp``, ``gp``)."""
    return PREDICTORS[kind](space, objective, **params)
