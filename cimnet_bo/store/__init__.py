"""Run stores (SQLite, one file per run) and labeled datasets (parquet / CSV)."""

from cimnet_bo.store.dataset import (
    META_COLUMNS,
    Dataset,
    DatasetError,
    check_frame,
    frame_from_rows,
    read_dataset,
    write_dataset,
)
from cimnet_bo.store.lock import LockedError, WriterLock
from cimnet_bo.store.run import RUN_CONFIG_FILE, RUN_STORE_FILE, RunStore, StoreError, config_key, is_run_dir

__all__ = [
    "RUN_CONFIG_FILE",
    "RUN_STORE_FILE",
    "is_run_dir",
    "RunStore",
    "LockedError",
    "WriterLock",
    "StoreError",
    "config_key",
    "Dataset",
    "DatasetError",
    "META_COLUMNS",
    "check_frame",
    "frame_from_rows",
    "read_dataset",
    "write_dataset",
]
