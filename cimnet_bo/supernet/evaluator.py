"""Subnet accuracy from a trained supernet, on a held-out Fashion-MNIST split."""

from __future__ import annotations

import contextlib
import json
import pickle
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable, Mapping

import numpy as np
import torch
from torch import nn

from cimnet_bo.core.shipped import shipped_dir
from cimnet_bo.space import Space, as_space, get_subnet_space, list_subnet_spaces, subnet_side
from cimnet_bo.supernet import build_supernet, needs_bn_calibration, recalibrate_bn
from cimnet_bo.supernet.data import DataError, load_split, sha256, to_tensor


@torch.no_grad()
def accuracy_of(
    supernet: nn.Module,
    config: Mapping[str, Any],
    images: torch.Tensor,
    labels: np.ndarray,
    calib: torch.Tensor | None = None,
    batch_size: int = 1000,
    compute: Callable[[], ContextManager] | None = None,
) -> float:
    """Top-1 accuracy of one subnet: extract it, re-estimate BatchNorm statistics on
    ``calib`` when it has BatchNorm, and classify ``images`` (n x 1 x 28 x 28).

    ``compute`` (optional) makes the context the classification runs in, e.g. a chip's
    computation (:class:`cimnet_bo.supernet.analog.AnalogCompute`); BatchNorm statistics are
    estimated outside it, in floating point."""
    sub = supernet.get_subnet(config)
    device = next(sub.parameters()).device
    if needs_bn_calibration(sub):
        if calib is None:
            raise ValueError("this subnet has BatchNorm: pass calibration images")
        sub = sub.to(memory_format=torch.channels_last)
        recalibrate_bn(sub, calib.to(device).contiguous(memory_format=torch.channels_last))
    sub.eval()
    correct = 0
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)
    with compute() if compute is not None else contextlib.nullcontext():
        for i in range(0, len(images), batch_size):
            logits = sub(images[i : i + batch_size].to(device))
            correct += int((logits.argmax(1) == y[i : i + batch_size]).sum())
    return correct / len(images)


def default_checkpoint(space_name: str) -> Path:
    """The shipped supernet checkpoint of a space: ``supernets/<space>.pt`` in the shipped data
    folder (:func:`cimnet_bo.core.shipped.shipped_dir`), ``-`` in the space name written ``_``."""
    return shipped_dir("data") / "supernets" / f"{space_name.replace('-', '_')}.pt"


def load_supernet(space: Space, checkpoint: str | Path | None = None, device: str = "cpu") -> tuple[nn.Module, str]:
    """(supernet with weights, checkpoint SHA-256). The checksum is compared with the
    metadata JSON beside the checkpoint when there is one."""
    path = Path(checkpoint) if checkpoint else default_checkpoint(space.name)
    if not path.exists():
        raise DataError(
            f"supernet checkpoint {path} not found; train one with `cimnet-bo train-supernet` or pass checkpoint="
        )
    digest = sha256(path)
    meta_path = path.with_suffix(".json")
    if meta_path.exists():
        expected = json.loads(meta_path.read_text()).get("sha256")
        if expected and expected != digest:
            raise DataError(f"checksum mismatch for {path}: metadata says {expected}, file is {digest}")
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
        raise DataError(
            f"supernet checkpoint {path} is not a readable torch checkpoint (damaged?): {type(e).__name__}"
        ) from None
    if not isinstance(blob, dict) or "state_dict" not in blob:
        raise DataError(f"supernet checkpoint {path} holds no supernet weights (no 'state_dict')")
    if blob.get("space") != space.name:
        raise ValueError(f"{path} holds a supernet of space {blob.get('space')!r}, not {space.name!r}")
    model = build_supernet(space).to(device)
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, digest


class SupernetEvaluator:
    """Accuracy (fraction in [0, 1]) of subnets of a trained supernet.

    Parameters
    ----------
    space : str or Space
        ``"vit-fmnist"``, ``"cnn-fmnist"``, or a (joint) space of those families.
    checkpoint : path, optional
        Supernet weights; default: the shipped ``data/supernets/<space>.pt``.
    split : str
        ``"val"`` (what the search sees) or ``"test"`` (final reporting).
    device : str
        Torch device.
    batch_size : int
        Inference batch size.
    indices : array of int, optional
        Evaluate on these rows of the split only (default: the whole split). Two disjoint
        halves of ``val`` give the evaluation-noise floor of accuracy rankings.

    Notes
    -----
    Accuracy depends on the subnet half of a joint configuration only, so results are
    cached by subnet. Evaluation is deterministic: the same subnet gives the same accuracy.
    """

    objectives = {"accuracy": "max"}
    cheap = False

    def __init__(
        self,
        space: str | Space,
        checkpoint: str | Path | None = None,
        split: str = "val",
        device: str = "cpu",
        batch_size: int = 1000,
        indices: Iterable[int] | None = None,
    ) -> None:
        if isinstance(space, str) and space in list_subnet_spaces():
            space = get_subnet_space(space)
        self.space = subnet_side(as_space(space))
        self.checkpoint = checkpoint
        self.split = split
        self.device = device
        self.batch_size = batch_size
        self.indices = None if indices is None else np.asarray(list(indices), dtype=np.int64)
        self._model: nn.Module | None = None
        self._cache: dict[tuple, float] = {}
        self.identity: str | None = None

    def _load(self) -> None:
        if self._model is not None:
            return
        model, identity = load_supernet(self.space, self.checkpoint, self.device)
        images, labels = load_split(self.split)
        if self.indices is not None:
            if self.indices.size == 0 or self.indices.min() < 0 or self.indices.max() >= len(images):
                raise ValueError(f"indices must be non-empty and lie in [0, {len(images)}) for split {self.split!r}")
            images, labels = images[self.indices], labels[self.indices]
        self._images = to_tensor(images).to(self.device)
        self._calib = to_tensor(load_split("calib")[0]).to(self.device)
        self._labels = labels
        self._model, self.identity = model, identity  # set last: a failed load is tried again

    def key(self, config: Mapping[str, Any]) -> tuple:
        sub = self.space.validate({n: config[n] for n in self.space.names if n in config})
        return tuple(sub[n] for n in self.space.names)

    def evaluate(self, configs: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Accuracies of the subnets of ``configs`` (subnet or joint dicts): array (n,)."""
        configs = list(configs)
        keys = [self.key(c) for c in configs]
        todo = [k for k in dict.fromkeys(keys) if k not in self._cache]
        if todo:
            self._load()
            for k in todo:
                self._cache[k] = self._accuracy(k)
        return np.array([self._cache[k] for k in keys])

    def _accuracy(self, key: tuple) -> float:
        """The accuracy of one cache key (loaded supernet)."""
        cfg = dict(zip(self.space.names, key))
        return accuracy_of(self._model, cfg, self._images, self._labels, self._calib, self.batch_size)


class ChipAccuracyEvaluator(SupernetEvaluator):
    """Accuracy (fraction in [0, 1]) of the subnet of a joint configuration as its chip computes
    it (:mod:`cimnet_bo.supernet.analog`).

    Parameters
    ----------
    space, checkpoint, split, device, batch_size, indices :
        See :class:`SupernetEvaluator`.
    mode : str
        ``"fast"`` (default) or ``"exact"``.
    adc_range : str, optional
        ADC range rule (:data:`cimnet_bo.supernet.analog.ADC_RANGES`; default
        :data:`~cimnet_bo.supernet.analog.DEFAULT_ADC_RANGE`).
    seed : int
        Seeds the RRAM cell variation (the same for every chip: one programmed instance).
    sigma : float, optional
        RRAM cell variation (default :data:`cimnet_bo.supernet.analog.RRAM_SIGMA`).

    Notes
    -----
    Results are cached by the subnet and the chip's accuracy knobs
    (:data:`cimnet_bo.hardware.config.ACCURACY_KNOBS`, resolved by
    :meth:`~cimnet_bo.supernet.analog.AnalogSpec.from_config`): chips that differ only in macro
    count, buffers or clock share one evaluation.
    """

    def __init__(
        self,
        space: str | Space,
        checkpoint: str | Path | None = None,
        split: str = "val",
        device: str = "cpu",
        batch_size: int = 1000,
        indices: Iterable[int] | None = None,
        mode: str = "fast",
        adc_range: str | None = None,
        seed: int = 0,
        sigma: float | None = None,
    ) -> None:
        from cimnet_bo.supernet.analog import ADC_RANGES, DEFAULT_ADC_RANGE, MODES, RRAM_SIGMA

        super().__init__(space, checkpoint, split, device, batch_size, indices)
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {list(MODES)}")
        adc_range = DEFAULT_ADC_RANGE if adc_range is None else adc_range
        ADC_RANGES[adc_range]  # an unknown name raises, listing the rules
        self.mode, self.adc_range, self.seed = mode, adc_range, int(seed)
        self.sigma = RRAM_SIGMA if sigma is None else float(sigma)

    def key(self, config: Mapping[str, Any]) -> tuple:
        from cimnet_bo.supernet.analog import AnalogSpec

        return super().key(config), AnalogSpec.from_config(config, sigma=self.sigma)

    def _accuracy(self, key: tuple) -> float:
        from cimnet_bo.supernet.analog import AnalogCompute

        sub, chip = key
        cfg = dict(zip(self.space.names, sub))
        return accuracy_of(
            self._model,
            cfg,
            self._images,
            self._labels,
            self._calib,
            self.batch_size,
            compute=lambda: AnalogCompute(chip, self.mode, self.adc_range, self.seed),
        )

    @property
    def chip_identity(self) -> str:
        """The chip model's part of :attr:`identity`: ``analog-v<version>:<mode>:<rule>:sigma=..:
        seed=..:batch=..``."""
        from cimnet_bo.supernet.analog import ANALOG_VERSION

        return (
            f"analog-v{ANALOG_VERSION}:{self.mode}:{self.adc_range}:"
            f"sigma={self.sigma}:seed={self.seed}:batch={self.batch_size}"
        )

    def _load(self) -> None:
        super()._load()
        if "analog" not in self.identity:
            self.identity = f"{self.identity}|{self.chip_identity}"
