"""cimnet-bo: joint search of neural sub-networks and compute-in-memory hardware."""

__version__ = "0.1.0"
