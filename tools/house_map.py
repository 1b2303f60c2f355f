"""The package drawn as a house: its modules (rooms), the imports between them, the floors
(longest chain of imports below a module) and any import cycle; with ``--plot``, a picture.

Every import counts: top-level, in functions and under ``TYPE_CHECKING``. Usage::

    python tools/house_map.py [PACKAGE_DIR] [--plot house.png]

Prints one table row per subpackage and the totals (modules at the top level, rooms,
imports, floors, cycles).
"""

import argparse
import ast
import collections
import pathlib
import sys


def module_name(path: pathlib.Path, root: pathlib.Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: pathlib.Path, package: str, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports (a name imported from a package that is
    one of its modules counts as that module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith(package):
                found.add(name)
    return found


def house(root: pathlib.Path) -> dict:
    """Rooms (modules, ``__init__`` files of subpackages excluded), their imports, floors."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    modules = set(files)
    graph = {m: imports_of(p, root.name, modules) - {m} for m, p in files.items()}
    rooms = {m for m, p in files.items() if p.name != "__init__.py"}
    edges = {(a, b) for a in rooms for b in graph[a] if b in rooms}
    floors: dict[str, int] = {}

    def floor(module: str, seen: tuple = ()) -> int:
        if module in seen:
            return 0  # a cycle: reported separately
        if module not in floors:
            below = [floor(b, (*seen, module)) for a, b in edges if a == module]
            floors[module] = 1 + max(below, default=0)
        return floors[module]

    for module in rooms:
        floor(module)
    cycles = [(a, b) for a, b in edges if a < b and (b, a) in edges]
    return {"files": files, "rooms": rooms, "edges": edges, "floors": floors,
            "cycles": cycles, "top": [m for m in rooms if m.count(".") == 1]}


def group_of(module: str) -> str:
    """The subpackage a module is in (``(top level)`` for a module at the top)."""
    return module.split(".")[1] if module.count(".") > 1 else "(top level)"


def print_table(drawing: dict, package: str) -> None:
    groups = collections.Counter(group_of(m) for m in drawing["rooms"])
    uses = collections.defaultdict(set)
    for a, b in drawing["edges"]:
        if group_of(a) != group_of(b) or group_of(a) == "(top level)":
            uses[group_of(a)].add(b.split(".")[1] if group_of(b) == "(top level)" else group_of(b))
    print("| subpackage | modules | imports from |\n|---|---|---|")
    for group, count in sorted(groups.items()):
        print(f"| {group} | {count} | {', '.join(sorted(uses[group])) or '-'} |")
    lines = sum(len(drawing["files"][m].read_text(encoding="utf-8").splitlines())
                for m in drawing["rooms"])
    print(f"\n{package}: {len(drawing['top'])} modules at the top level, "
          f"{len(drawing['rooms'])} rooms ({lines} lines) on {max(drawing['floors'].values())} "
          f"floors, {len(drawing['edges'])} imports between them, "
          f"{len(drawing['cycles'])} two-module import cycles {drawing['cycles']}")


def plot(drawing: dict, out: pathlib.Path) -> None:
    import matplotlib.pyplot as plt

    by_floor = collections.defaultdict(list)
    for module, level in drawing["floors"].items():
        by_floor[level].append(module)
    position = {}
    for level, modules in by_floor.items():
        for index, module in enumerate(sorted(modules)):
            position[module] = (index - len(modules) / 2, level)
    figure, axes = plt.subplots(figsize=(16, 9))
    for a, b in drawing["edges"]:
        (x0, y0), (x1, y1) = position[a], position[b]
        axes.plot([x0, x1], [y0, y1], color="0.8", linewidth=0.5, zorder=1)
    for module, (x, y) in position.items():
        group = module.split(".")[1] if module.count(".") > 1 else "top"
        axes.annotate(module.split(".", 1)[1], (x, y), ha="center", fontsize=6,
                      bbox={"boxstyle": "round", "fc": f"C{hash(group) % 10}", "alpha": 0.3})
    axes.set_ylabel("floor (longest import chain below)")
    axes.set_xticks([])
    axes.set_title(f"{len(drawing['rooms'])} modules, {len(drawing['edges'])} imports")
    figure.savefig(out, dpi=120, bbox_inches="tight")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", nargs="?", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parents[1] / "speechbrain_ssdctx")
    parser.add_argument("--plot", type=pathlib.Path, help="write a picture of the house")
    args = parser.parse_args(argv)
    drawing = house(args.package.resolve())
    print_table(drawing, args.package.name)
    if args.plot:
        plot(drawing, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
