"""The package's structure: nothing outside sapwood/model reads a Booster's private
attributes, and no two modules import each other in a circle.

Import graph rules (what counts as an edge):
* every ``import`` / ``from ... import`` anywhere in a module counts, including those inside
  functions (a lazy import hides a circle, it does not remove it); only those under
  ``if TYPE_CHECKING:`` do not (they never run);
* ``from pkg import name`` is an edge to ``pkg.name`` when that is a module; when ``pkg``'s
  ``__init__`` re-exports ``name`` from one of its submodules, the edge goes to that
  submodule (the module that really defines it); otherwise to ``pkg`` itself;
* a package ``__init__`` is a module like any other: its imports of its own submodules are
  edges, so a submodule that imports a name *defined* in its package's ``__init__`` closes a
  circle (the version lives in ``sapwood/_version.py`` for that reason), while one that imports
  a name the ``__init__`` merely re-exports depends on the defining module only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sapwood.model.booster import Booster

ROOT = Path(__file__).resolve().parents[2] / "python"
PKG = ROOT / "sapwood"


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in PKG.rglob("*.py"):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    # Compiled extensions are modules too (leaves of the graph). A fresh checkout has no built
    # .so in the source tree, only its .pyi stub: count either.
    for p in [*PKG.rglob("*.so"), *PKG.rglob("*.pyi")]:
        parts = list(p.relative_to(ROOT).parts)
        parts[-1] = parts[-1].split(".")[0]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                skip.update(id(n) for n in ast.walk(sub))
    return skip


def _base(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    pkg = module if _is_package(module) else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        pkg = pkg.rpartition(".")[0]
    return f"{pkg}.{node.module}" if node.module else pkg


def _parse(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(encoding="utf-8"))


def _reexports(pkg: str) -> dict[str, str]:
    """Names a package's __init__ imports from its own submodules: name -> that module."""
    out: dict[str, str] = {}
    for node in ast.walk(_parse(pkg)):
        if isinstance(node, ast.ImportFrom):
            base = _base(pkg, node)
            if base.startswith(pkg + ".") and base in MODULES:
                for a in node.names:
                    out[a.asname or a.name] = base
    return out


def _resolve(base: str, name: str) -> str:
    seen = set()
    while base in MODULES and _is_package(base) and (base, name) not in seen:
        seen.add((base, name))
        if f"{base}.{name}" in MODULES:
            return f"{base}.{name}"
        target = _reexports(base).get(name)
        if target is None:
            return base
        if not _is_package(target):
            return target
        base = target
    return base


def _edges(module: str) -> set[str]:
    tree = _parse(module)
    skip = _type_checking_nodes(tree)
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, node)
            out.update(_resolve(base, a.name) for a in node.names)
    return {m for m in out if m in MODULES and m != module}


def import_graph() -> dict[str, set[str]]:
    return {m: _edges(m) for m, p in MODULES.items() if p.suffix == ".py"}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert cycles == [], f"modules that import each other in a circle: {cycles}"


def test_the_cycle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_function_level_imports_count() -> None:
    # sapwood.model.booster's lazy import of the GPU module is an edge like any other
    assert "sapwood.model.gpu" in import_graph()["sapwood.model.booster"]


def _booster_private_names() -> set[str]:
    names = {n for n in vars(Booster) if n.startswith("_") and not n.startswith("__")}
    names |= {n for n in vars(Booster()) if n.startswith("_") and not n.startswith("__")}
    return names


def test_private_names_come_from_the_class() -> None:
    names = _booster_private_names()
    assert {"_trees", "_tree_output", "_forest", "_get_forest", "_matrix",
            "_tree_range"} <= names


def private_accesses(source: str, label: str, names: set[str]) -> list[str]:
    """``<expr>._name`` where ``_name`` is a Booster private (``self.`` / ``cls.`` of the
    module's own classes excluded), ``getattr(x, "_name")``, and ``booster.__dict__``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in names:
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            out.append(f"{label}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Attribute) and node.attr == "__dict__" \
                and "booster" in ast.unparse(node.value).lower():
            out.append(f"{label}:{node.lineno}: .__dict__")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("getattr", "setattr", "hasattr") and len(node.args) > 1 \
                and isinstance(node.args[1], ast.Constant) and node.args[1].value in names:
            out.append(f"{label}:{node.lineno}: {node.func.id} {node.args[1].value}")
    return out


def test_nothing_outside_the_model_package_reads_booster_privates() -> None:
    names = _booster_private_names()
    found = []
    for path in sorted(PKG.rglob("*.py")):
        if path.relative_to(PKG).parts[0] == "model":
            continue
        found += private_accesses(path.read_text(encoding="utf-8"),
                                  str(path.relative_to(ROOT)), names)
    assert found == [], "Booster private attributes used outside sapwood/model:\n" + \
        "\n".join(found)


@pytest.mark.parametrize("source, hits", [
    ("b._trees[0]\n", 1),
    ("booster._get_forest().kernel\n", 1),
    ("getattr(b, '_matrix')(X)\n", 1),
    ("booster.__dict__['_cuda_forest'] = 1\n", 1),
    ("self._trees = []\n", 0),
    ("b.trees()\n", 0),
])
def test_the_private_scan_sees_accesses(source: str, hits: int) -> None:
    assert len(private_accesses(source, "probe", _booster_private_names())) == hits
