"""The package's house plan holds: layers import downward only, and no module
imports another in a cycle, not even from inside a function (README: Layout)."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

PACKAGE = Path(__file__).resolve().parent.parent / "node"

# bottom (0) to top; a module may import only modules of its own layer or below
LAYERS: Dict[str, int] = {
    "node": 0, "node.errors": 0, "node.log": 0, "node.atomic_file": 0,
    "node.config": 1,
    "node.tls": 2, "node.wire": 2, "node.fastpath": 2,
    "node.trust": 3,
    "node.router": 4,
    "node.web": 5, "node.bridge": 5, "node.tunnel": 5,
    "node.transports": 6,
    "node.cluster": 7,
    "node.workers": 8,
    "node.process": 9,
    "node.commands": 10, "node.__main__": 10,
}


def module_names() -> Dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("node",) + path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def resolve(name: str, names: Dict[str, Path]) -> str:
    while name and name not in names:
        name = name.rpartition(".")[0]
    return name


def imports_of(module: str, path: Path, names: Dict[str, Path]) -> Set[str]:
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.dump(block.test)
                 for n in ast.walk(block)}  # annotations only: no import at run time
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "node" or target.startswith("node."):
                hit = resolve(target, names)
                if hit and hit != module:
                    found.add(hit)
    return found


def layer_of(module: str) -> int:
    name = module
    while name not in LAYERS:
        name = name.rpartition(".")[0]
        assert name, f"{module} belongs to no layer: add its package to LAYERS and to the README's Layout"
    return LAYERS[name]


def graph() -> Dict[str, Set[str]]:
    names = module_names()
    return {module: imports_of(module, path, names) for module, path in names.items()}


def test_every_import_goes_down_or_stays_in_its_layer():
    upward = [f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
              for module, targets in graph().items() for target in sorted(targets)
              if layer_of(target) > layer_of(module)]
    assert upward == []


def test_no_import_cycles():
    edges = graph()
    cycles: List[List[str]] = []
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    assert cycles == []


def test_package_root_keeps_only_entry_points_and_cross_cutting_modules():
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert root == ["__init__.py", "__main__.py", "atomic_file.py", "errors.py", "log.py"]
