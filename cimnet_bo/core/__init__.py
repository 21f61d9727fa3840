"""The project's basics, imported by every layer: its error base class, its registries and
plain (JSON-ready) values and files written atomically. Nothing here imports anything heavier than numpy."""

from cimnet_bo.core.errors import CimnetError, UnknownNameError, key_mismatch
from cimnet_bo.core.files import acquire_flock, atomic_write
from cimnet_bo.core.plain import plain
from cimnet_bo.core.registry import Registry

__all__ = ["CimnetError", "Registry", "UnknownNameError", "acquire_flock", "atomic_write", "key_mismatch", "plain"]
