"""Set-up shared by every test module; pytest loads this file before any of them.

* One OpenMP thread unless ``OMP_NUM_THREADS`` says otherwise: the machines running the tests
  are shared, and torch, numpy and xgboost read it when first imported (so this comes before
  any of them). Subprocesses (Jupyter kernels, scripts, Ray workers) inherit it.
* The helper modules of ``tests/`` (``search_helpers``, ``label_helpers``) and of
  ``benchmarks/`` (``calibration``) import by name, and the examples as ``examples.<name>``
  (``examples.tiny_cnn:make_net``, the README's model for ``search --model``).
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

TESTS = Path(__file__).resolve().parent
for folder in (TESTS, TESTS.parent / "benchmarks", TESTS.parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
