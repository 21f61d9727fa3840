"""Fashion-MNIST splits: train (50,000), val (10,000), test (10,000), BN calibration (2,000).

* train: 50,000 images of the official training set, read from the IDX files of the Debian
  package ``dataset-fashion-mnist`` (or a folder named by ``$CIMNET_FMNIST_DIR`` or an option);
* val: the other 10,000 training images (fixed, seeded indices): every accuracy the search
  sees comes from here;
* test: the official 10,000 test images, for final reporting only;
* calib: 2,000 training images for BatchNorm recalibration of CNN subnets.

val, test and calib are shipped in ``data/fmnist/`` (see :func:`cimnet_bo.core.shipped.shipped_dir`)
as compressed ``.npz`` files whose SHA-256 checksums (``data/fmnist/SHA256SUMS.json``) are checked
on every load.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from cimnet_bo.core import CimnetError
from cimnet_bo.core.shipped import shipped_dir
from cimnet_bo.supernet.recipes import SHIPPED, check_split

SPLIT_SEED = 20240501
N_VAL = 10_000
N_CALIB = 2_000
IDX_DIRS = ("/usr/share/datasets/fashion-mnist",)
ENV_DIR = "CIMNET_FMNIST_DIR"
#: Per-pixel normalisation used by both supernets (training-set mean and std of [0,1] pixels).
MEAN, STD = 0.2860, 0.3530


class DataError(CimnetError, RuntimeError):
    """The data files are missing or do not match their checksums."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a uint8 array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    if magic >> 8 != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (magic {magic:#x})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find_idx_dir(folder: str | Path | None = None) -> Path:
    """The folder holding the Fashion-MNIST IDX files; raises :class:`DataError` saying
    where to get them."""
    candidates = [Path(folder)] if folder else []
    if os.environ.get(ENV_DIR):
        candidates.append(Path(os.environ[ENV_DIR]))
    candidates += [Path(d) for d in IDX_DIRS]
    for d in candidates:
        if any((d / f"train-images-idx3-ubyte{ext}").exists() for ext in (".gz", "")):
            return d
    raise DataError(
        "Fashion-MNIST training images not found (looked in: "
        + ", ".join(str(c) for c in candidates)
        + "). Install them with `apt-get install dataset-fashion-mnist` (files land in "
        "/usr/share/datasets/fashion-mnist/), or put train-images-idx3-ubyte.gz and "
        f"train-labels-idx1-ubyte.gz in a folder and set ${ENV_DIR} or pass --data-dir."
    )


def _idx(folder: Path, stem: str) -> np.ndarray:
    for ext in (".gz", ""):
        p = folder / f"{stem}{ext}"
        if p.exists():
            return read_idx(p)
    raise DataError(f"{folder}: missing {stem}(.gz)")


def split_indices() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, calib) indices into the official 60,000 training images; fixed."""
    perm = np.random.default_rng(SPLIT_SEED).permutation(60_000)
    val, train = np.sort(perm[:N_VAL]), np.sort(perm[N_VAL:])
    calib = np.sort(np.random.default_rng(SPLIT_SEED + 1).choice(train, N_CALIB, replace=False))
    return train, val, calib


def load_official(folder: str | Path | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """All four splits from the IDX files: ``{split: (images uint8 (n x 28 x 28), labels (n,))}``."""
    d = find_idx_dir(folder)
    xtr, ytr = _idx(d, "train-images-idx3-ubyte"), _idx(d, "train-labels-idx1-ubyte")
    xte, yte = _idx(d, "t10k-images-idx3-ubyte"), _idx(d, "t10k-labels-idx1-ubyte")
    train, val, calib = split_indices()
    return {
        "train": (xtr[train], ytr[train]),
        "val": (xtr[val], ytr[val]),
        "calib": (xtr[calib], ytr[calib]),
        "test": (xte, yte),
    }


def write_shipped(out_dir: str | Path | None = None, folder: str | Path | None = None) -> dict[str, str]:
    """Write val/test/calib ``.npz`` files and their checksum manifest; returns the checksums."""
    out = Path(out_dir) if out_dir else shipped_dir("data") / "fmnist"
    out.mkdir(parents=True, exist_ok=True)
    splits = load_official(folder)
    sums = {}
    for name in SHIPPED:
        x, y = splits[name]
        path = out / f"{name}.npz"
        np.savez_compressed(path, images=x, labels=y)
        sums[path.name] = sha256(path)
    (out / "SHA256SUMS.json").write_text(json.dumps(sums, indent=2) + "\n")
    return sums


def load_split(
    split: str, data_dir: str | Path | None = None, idx_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images (n x 28 x 28, uint8) and labels (n,) of one split.

    ``val``, ``test`` and ``calib`` come from the shipped files (checksum checked);
    ``train`` from the IDX files.
    """
    check_split(split)
    if split == "train":
        return load_official(idx_dir)["train"]
    folder = Path(data_dir) if data_dir else shipped_dir("data") / "fmnist"
    path = folder / f"{split}.npz"
    manifest = folder / "SHA256SUMS.json"
    if not path.exists() or not manifest.exists():
        raise DataError(f"shipped split {path} (or its manifest {manifest}) is missing")
    expected = json.loads(manifest.read_text()).get(path.name)
    actual = sha256(path)
    if expected != actual:
        raise DataError(f"checksum mismatch for {path}: expected {expected}, got {actual}")
    with np.load(path) as z:
        return z["images"], z["labels"]


def to_tensor(images: np.ndarray):
    """uint8 images (n x 28 x 28) to a normalised float tensor (n x 1 x 28 x 28)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0).unsqueeze(1)
    return x.sub_(MEAN).div_(STD)
