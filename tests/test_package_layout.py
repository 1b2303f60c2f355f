"""The package's layout: subpackages only at the top, no import cycle between modules, and
the paper's method independent of training, evaluation and serving.

The import graph is read from the source (``ast``), every import statement counted:
module-level, inside functions and under ``if TYPE_CHECKING:``. Importing ``a.b.c``
runs ``a/__init__``, ``a.b/__init__`` and ``a.b.c``: an import is an edge to the module
and to its packages, except the importer's own packages (already being imported).
"""

import ast
from pathlib import Path

import pytest

import speechbrain_ssdctx

PACKAGE = Path(speechbrain_ssdctx.__file__).parent
NAME = "speechbrain_ssdctx"


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """``{dotted module name: file}`` of every module of the package."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_names(importer: str, node: ast.AST, is_package: bool) -> list[str]:
    """The dotted names an ``import`` / ``from ... import`` statement can load."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative import
        anchor = importer.split(".") if is_package else importer.split(".")[:-1]
        anchor = anchor[: len(anchor) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """``{module: the package's modules its import statements run}``."""
    graph = {}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        own = module if is_package else module.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for name in imported_names(module, node, is_package):
                parts = name.split(".")
                for end in range(1, len(parts) + 1):
                    target = ".".join(parts[:end])
                    if target in modules and target != module and not (
                        own == target or own.startswith(target + ".")
                    ):
                        edges.add(target)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (``[a, b, ..., a]``), or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph):
        if root in state:
            continue
        path, iterators = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while path:
            child = next(iterators[-1], None)
            if child is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = 1
                path.append(child)
                iterators.append(iter(sorted(graph[child])))
    return None


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for child in graph[todo.pop()] - seen:
            seen.add(child)
            todo.append(child)
    return seen


@pytest.fixture(scope="module")
def graph():
    return import_graph(module_files())


def test_the_graph_reader_sees_every_kind_of_import(tmp_path):
    package = tmp_path / NAME
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .a import f\n")
    (package / "sub" / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from speechbrain_ssdctx.sub.b import g\n"
    )
    (package / "sub" / "b.py").write_text("def g():\n    from . import c\n")
    (package / "sub" / "c.py").write_text("import speechbrain_ssdctx.other\n")
    (package / "other.py").write_text("from speechbrain_ssdctx.sub import a\n")
    graph = import_graph(module_files(package))
    assert graph == {
        NAME: set(),
        f"{NAME}.other": {f"{NAME}.sub", f"{NAME}.sub.a"},
        f"{NAME}.sub": {f"{NAME}.sub.a"},
        f"{NAME}.sub.a": {f"{NAME}.sub.b"},
        f"{NAME}.sub.b": {f"{NAME}.sub.c"},
        f"{NAME}.sub.c": {f"{NAME}.other"},
    }
    cycle = find_cycle(graph)
    assert cycle == [f"{NAME}.{m}" for m in ("other", "sub", "sub.a", "sub.b", "sub.c", "other")]
    graph[f"{NAME}.sub.c"] = set()
    assert find_cycle(graph) is None


def test_no_import_cycle_between_modules(graph):
    assert len(graph) > 50  # the whole package was read
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_method_imports_nothing_from_training_evaluation_or_serving(graph):
    method = [module for module in graph if module.startswith(f"{NAME}.method")]
    assert f"{NAME}.method.contract" in method
    forbidden = tuple(f"{NAME}.{part}" for part in ("training", "evaluation", "inference"))
    for module in method:
        leaks = sorted(m for m in reachable(graph, module) if m.startswith(forbidden))
        assert not leaks, f"{module} imports {leaks}"


def test_only_subpackages_at_the_top_level():
    modules = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert modules == ["__init__.py"]
