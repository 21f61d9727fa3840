"""Run stores (SQLite, one file per run) and labeled datasets (parquet / CSV)."""

from cimnet_bo.store.dataset import (
    META_COLUMNS,
    Dataset,
    DatasetError,
    check_dataset_path,
    check_frame,
    frame_from_rows,
    read_dataset,
    read_table,
    write_dataset,
)
from cimnet_bo.store.lock import LockedError, WriterLock
from cimnet_bo.store.run import (
    RUN_CONFIG_FILE,
    RUN_STORE_FILE,
    RunStore,
    StoreError,
    config_key,
    holds_run,
    is_run_dir,
    store_errors,
    store_files,
)

__all__ = [
    "RUN_CONFIG_FILE",
    "RUN_STORE_FILE",
    "is_run_dir",
    "holds_run",
    "RunStore",
    "LockedError",
    "WriterLock",
    "StoreError",
    "config_key",
    "store_errors",
    "store_files",
    "Dataset",
    "DatasetError",
    "META_COLUMNS",
    "check_dataset_path",
    "check_frame",
    "frame_from_rows",
    "read_dataset",
    "read_table",
    "write_dataset",
]
