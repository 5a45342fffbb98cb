"""The shape the code keeps (docs/architecture.md): small modules, short functions, no
import cycles. An exception is allowed only where docs/architecture.md's section
"Exceptions to the size limits" names it and says why."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "dltrain"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _exceptions() -> set[str]:
    """`dltrain/x.py` or `dltrain/x.py:function` entries of the docs' exceptions section."""
    text = (REPO / "docs" / "architecture.md").read_text()
    match = re.search(r"## Exceptions to the size limits\n(.*?)(\n## |\Z)", text, re.S)
    if not match:
        return set()
    return set(re.findall(r"^- `([^`]+)`", match.group(1), re.M))


def _name(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def test_no_module_over_500_lines():
    allowed = _exceptions()
    long = [
        f"{_name(p)}: {n} lines"
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES and _name(p) not in allowed
    ]
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_over_60_lines():
    allowed = _exceptions()
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                where = f"{_name(path)}:{node.name}"
                if lines > MAX_FUNCTION_LINES and where not in allowed:
                    long.append(f"{where} ({lines} lines)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def _module_level_imports(path: Path) -> set[str]:
    """The dltrain modules `path` imports when it is imported (not inside functions)."""
    name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text())
    for node in tree.body:
        nodes = [node]
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks do not run
            continue
        for n in nodes:
            if isinstance(n, ast.Import):
                found |= {a.name for a in n.names if a.name.startswith("dltrain")}
            elif isinstance(n, ast.ImportFrom):
                base = n.module or ""
                if n.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - n.level + 1] + ([base] if base else []))
                if base.startswith("dltrain"):
                    found.add(base)
                    found |= {f"{base}.{a.name}" for a in n.names}
    return found


def test_no_import_cycles():
    modules = {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
        for p in _modules()
    }
    graph = {m: {d for d in _module_level_imports(p) if d in modules and d != m}
             for m, p in modules.items()}  # fmt: skip
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    # a package importing its own submodules is not a cycle of logic
    cycles = [c for c in cycles if not all(m.startswith(c[0]) or c[0].startswith(m) for m in c)]
    assert not cycles, f"import cycles: {[' -> '.join(c) for c in cycles]}"
