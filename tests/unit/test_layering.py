"""The import graph (issue 27): nothing below the applications imports them, and no two modules import each other.

Every import counts, including those inside functions (a cycle held apart by a function-level import is still a
cycle to whoever reads the code); only ``if TYPE_CHECKING:`` blocks are left out. Importing a package's
``__init__`` by importing one of its modules is not counted: every module does that.
"""

from __future__ import annotations

import ast
from pathlib import Path

import promptlearn

ROOT = Path(promptlearn.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """The promptlearn modules ``path`` imports anywhere outside ``if TYPE_CHECKING:``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name in MODULES)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - child.level + 1] + ([child.module] if child.module else []))
                else:
                    base = child.module or ""
                subs = {f"{base}.{a.name}" for a in child.names}
                found.update(s for s in subs if s in MODULES)
                if base in MODULES and not subs <= set(MODULES):  # names from the module itself
                    found.add(base)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(name)
    return found


GRAPH = {name: imported_modules(path) for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_only_the_applications_import_the_applications():
    outside = {name: sorted(i for i in deps if i == "promptlearn.app" or i.startswith("promptlearn.app."))
               for name, deps in GRAPH.items()
               if not name.startswith("promptlearn.app") and name != "promptlearn.__main__"}
    assert {name: deps for name, deps in outside.items() if deps} == {}


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_checker_sees_cycles_and_function_level_imports():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert "promptlearn.retrieval" in GRAPH["promptlearn.bench.methods"]  # a module-level relative import
    assert "promptlearn.bench.ray_executor" in GRAPH["promptlearn.bench.runner"]
    assert "promptlearn.weights" in GRAPH["promptlearn.bench.weight_methods"]  # imported inside functions only
    assert "promptlearn.judges.spec" in GRAPH["promptlearn.task"]  # inside task_judges only


def test_benchmark_scripts_use_only_public_names():
    """benchmarks/ is the lab: its scripts import what a user could (no ``_private`` module or name)."""
    private = []
    for path in sorted((Path(__file__).parents[2] / "benchmarks").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("promptlearn"):
                names = [node.module or "", *(a.name for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("promptlearn")]
            else:
                continue
            if any(part.startswith("_") and not part.startswith("__") for n in names for part in n.split(".")):
                private.append(f"{path.name}:{node.lineno}")
    assert private == []
