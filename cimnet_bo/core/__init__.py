"""The project's basics, imported by every layer: its error base class, its registries, plain
(JSON-ready) values, the reading of input files and checking of output paths, files written
atomically and exclusive locks. Nothing here imports anything heavier than numpy."""

from cimnet_bo.core.errors import CimnetError, UnknownNameError, key_mismatch
from cimnet_bo.core.files import (
    InputFileError,
    acquire_flock,
    atomic_write,
    check_input_file,
    check_output_path,
    read_text,
    read_yaml,
    removed_on_error,
)
from cimnet_bo.core.plain import plain
from cimnet_bo.core.registry import Registry

__all__ = [
    "CimnetError",
    "InputFileError",
    "Registry",
    "UnknownNameError",
    "acquire_flock",
    "atomic_write",
    "check_input_file",
    "check_output_path",
    "key_mismatch",
    "plain",
    "read_text",
    "read_yaml",
    "removed_on_error",
]
