"""The package's layers (the Layout of DESIGN.md), read from the source with ``ast``: a module
imports only from its own layer and the layers before it, and only ``supernet`` imports torch
(or botorch, gpytorch) when it is imported; the others import it inside the functions that
need it."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cimnet_bo"
#: The layers, first to last: ``cimnet_bo/<layer>/`` (or ``cimnet_bo/<layer>.py``); the command
#: line is ``cimnet_bo/cli/`` or the ``cimnet_bo/cli.py`` and ``cimnet_bo/cli_*.py`` modules.
LAYERS = tuple("core moo space workload hardware supernet store evaluate predictors search analysis cli".split())
#: ``cimnet_bo/__init__.py`` and ``cimnet_bo/__main__.py``: above every layer, may import any.
TOP = "top"
#: Packages that only the layers in TORCH_LAYERS may import when they are imported.
TORCH = ("torch", "botorch", "gpytorch")
TORCH_LAYERS = ("supernet",)


@dataclass(frozen=True)
class Import:
    """One imported module: ``target`` (absolute dotted name), its ``line``, and whether it runs
    when the importing module is imported (``at_import``: not inside a function, and not under
    ``if TYPE_CHECKING:``)."""

    target: str
    line: int
    at_import: bool


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """``cimnet_bo/search/runner.py`` -> ``cimnet_bo.search.runner``; a package's ``__init__.py``
    is the package."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def read_imports(source: str, module: str, is_package: bool = False) -> list[Import]:
    """Every import statement of a module's source, at any depth, as absolute module names.

    ``from X import a, b`` gives ``X``, except ``from cimnet_bo import a`` (``a`` may be a
    sub-package), which gives ``cimnet_bo.a``; relative imports are resolved against ``module``
    (a package when ``is_package``).
    """
    found: list[Import] = []
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST, at_import: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            at_import = False
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, at_import)
            return
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno, at_import) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            if base == "cimnet_bo" or not node.module:
                found.extend(Import(f"{base}.{alias.name}", node.lineno, at_import) for alias in node.names)
            else:
                found.append(Import(base, node.lineno, at_import))
        for child in ast.iter_child_nodes(node):
            visit(child, at_import)

    visit(ast.parse(source), True)
    return found


def layer_of(module: str) -> str | None:
    """The layer of a ``cimnet_bo`` module (TOP for the package itself and ``__main__``, the
    unknown sub-package's name for one outside LAYERS), None for any other module."""
    parts = module.split(".")
    if parts[0] != "cimnet_bo":
        return None
    if len(parts) == 1 or parts[1] == "__main__":
        return TOP
    return "cli" if parts[1] == "cli" or parts[1].startswith("cli_") else parts[1]


def _modules() -> dict[str, tuple[Path, list[Import]]]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        out[name] = (path, read_imports(path.read_text(), name, path.name == "__init__.py"))
    return out


MODULES = _modules()


def _where(module: str, imp: Import) -> str:
    return f"{MODULES[module][0].relative_to(PACKAGE.parent)}:{imp.line}"


def test_the_reader_sees_every_kind_of_import():
    source = """
import os, torch.nn as nn
from typing import TYPE_CHECKING
from cimnet_bo import store, space as sp
from cimnet_bo.hardware.model import simulate
from . import registry
from .choice import Choice
from .. import workload
from ..search.runner import run_search
if TYPE_CHECKING:
    from botorch.models import SingleTaskGP
class A:
    import gpytorch
def f():
    import torch
    from cimnet_bo.analysis import report
    def g():
        from ..predictors import xgb
"""
    got = {(i.target, i.at_import) for i in read_imports(source, "cimnet_bo.space.joint")}
    assert {t for t, now in got if now} == {
        "os",
        "torch.nn",
        "typing",
        "cimnet_bo.store",
        "cimnet_bo.space",
        "cimnet_bo.hardware.model",
        "cimnet_bo.space.registry",
        "cimnet_bo.space.choice",
        "cimnet_bo.workload",
        "cimnet_bo.search.runner",
        "gpytorch",
    }
    assert {t for t, now in got if not now} == {"botorch.models", "torch", "cimnet_bo.analysis", "cimnet_bo.predictors"}
    # in a package's __init__, "." is the package itself
    assert [i.target for i in read_imports("from .space import Space", "cimnet_bo.space", is_package=True)] == [
        "cimnet_bo.space.space"
    ]
    names = ["cimnet_bo", "cimnet_bo.__main__", "cimnet_bo.cli", "cimnet_bo.cli_search", "cimnet_bo.cli.search"]
    assert [layer_of(m) for m in names] == [TOP, TOP, "cli", "cli", "cli"]
    assert (layer_of("cimnet_bo.search.runner"), layer_of("numpy")) == ("search", None)


def test_every_module_is_in_a_layer():
    assert len(MODULES) > 20 and "cimnet_bo.supernet.evaluator" in MODULES
    outside = sorted(m for m in MODULES if layer_of(m) not in (*LAYERS, TOP))
    assert not outside, f"modules outside the layers {LAYERS}: {outside}"
    # an import of a cimnet_bo module that is not in a layer either is an error too
    unknown = sorted(
        f"{_where(m, i)} imports {i.target}"
        for m, (_, imps) in MODULES.items()
        for i in imps
        if layer_of(i.target) not in (None, *LAYERS, TOP)
    )
    assert not unknown, "imports of modules outside the layers:\n" + "\n".join(unknown)


def test_layers_import_only_from_earlier_layers():
    order = {name: rank for rank, name in enumerate(LAYERS)} | {TOP: len(LAYERS)}
    wrong = []
    for module, (_, imps) in MODULES.items():
        layer = layer_of(module)
        for imp in imps:
            target = layer_of(imp.target)
            if target in order and layer in order and order[target] > order[layer]:
                wrong.append(
                    f"{_where(module, imp)} ({layer}) imports {imp.target} ({target})"
                    f"{'' if imp.at_import else ' inside a function'}"
                )
    assert not wrong, "imports of later layers (order: " + ", ".join(LAYERS) + "):\n" + "\n".join(wrong)


@pytest.mark.parametrize("package", TORCH)
def test_only_supernet_imports_torch_when_imported(package):
    importers = {
        (m, i) for m, (_, imps) in MODULES.items() for i in imps if i.at_import and i.target.split(".")[0] == package
    }
    wrong = sorted(
        f"{_where(m, i)} ({layer_of(m)}) imports {i.target}" for m, i in importers if layer_of(m) not in TORCH_LAYERS
    )
    assert not wrong, (
        f"{package} imported at module import time outside {TORCH_LAYERS} "
        "(import it inside the function that needs it):\n" + "\n".join(wrong)
    )
    if package == "torch":
        assert any(m == "cimnet_bo.supernet.evaluator" for m, _ in importers)


def _loaded_with(module: str) -> set[str]:
    """The modules that importing ``module`` runs (its packages' ``__init__`` too), following
    the imports made at import time; outside ``cimnet_bo`` only the top-level name is kept."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        if parts[0] != "cimnet_bo":
            seen.add(parts[0])
            continue
        while name not in MODULES and "." in name:  # ``from cimnet_bo.x import f``: f is not a module
            name = name.rpartition(".")[0]
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:k]) for k in range(1, len(parts)))
        todo.extend(i.target for i in MODULES[name][1] if i.at_import)
    return seen


def test_only_supernet_brings_torch_in_when_imported():
    # importing any module outside supernet runs no module that imports torch at import time
    wrong = {}
    for module in MODULES:
        if layer_of(module) not in TORCH_LAYERS:
            loaded = _loaded_with(module)
            if loaded & set(TORCH):
                wrong[module] = sorted(m for m in loaded if layer_of(m) in TORCH_LAYERS or m in TORCH)
    assert not wrong, "modules that bring torch in when imported:\n" + "\n".join(f"{m}: {v}" for m, v in wrong.items())
    assert {"cimnet_bo", "cimnet_bo.supernet", "torch"} <= _loaded_with("cimnet_bo.supernet.evaluator")
