"""Where the files shipped with cimnet-bo are, in a source checkout and in an installed wheel.

The repository keeps them in its top-level ``data/`` (supernet checkpoints, the Fashion-MNIST
validation/test/calibration splits, labeled datasets) and ``predictors/`` (trained predictors,
one folder per space). ``cimnet_bo/_shipped/data`` and ``cimnet_bo/_shipped/predictors`` are
symbolic links to those folders, and a wheel carries their files as package data at the same
place, so one path serves both.
"""

from __future__ import annotations

import os
from pathlib import Path

from cimnet_bo.core.errors import UnknownNameError

#: Kinds of shipped files, each a folder of ``cimnet_bo/_shipped``.
KINDS = ("data", "predictors")
#: Environment variable that replaces the shipped ``data`` folder (with the same sub-folders).
DATA_ENV = "CIMNET_DATA"
_ROOT = Path(__file__).resolve().parents[1] / "_shipped"


def shipped_dir(kind: str = "data") -> Path:
    """The folder of one kind of shipped files.

    Parameters
    ----------
    kind
        ``"data"``: ``supernets/<space>.pt|json`` (supernet checkpoints and their recipes),
        ``fmnist/*.npz`` + ``SHA256SUMS.json`` (the shipped image splits) and
        ``labels/<space>.parquet`` (labeled datasets); ``$CIMNET_DATA`` replaces this folder
        when set. ``"predictors"``: ``<space>/`` folders of trained predictors.

    Returns
    -------
    Path
        The folder, absolute, with symbolic links resolved. It may not exist (for instance
        ``$CIMNET_DATA`` naming a folder still to be written).
    """
    if kind not in KINDS:
        raise UnknownNameError(f"unknown kind of shipped files {kind!r}; choose from {list(KINDS)}")
    if kind == "data" and os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).resolve()
    return (_ROOT / kind).resolve()
