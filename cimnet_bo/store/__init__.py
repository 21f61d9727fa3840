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
from cimnet_bo.store.run import RunStore, StoreError, config_key

__all__ = ["RunStore", "StoreError", "config_key", "Dataset", "DatasetError", "META_COLUMNS",
           "check_frame", "frame_from_rows", "read_dataset", "write_dataset"]
