"""The shape of the house: no import cycles anywhere, and the library never reaches for orchestration.

Imports are read from the source (every `import` and `from ... import`, also those inside functions; those under
`if TYPE_CHECKING:` are left out, as they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "flows", "configs", "models")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, name: str) -> set[str]:
    """The modules `name` imports, by absolute name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    out = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{name}: use absolute imports"
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    edges = {}
    for name, path in known.items():
        targets = set()
        for imported in imports(path, name):
            # `from pipeline.run import folder` names a module; `from pipeline.run.folder import Run` its parent
            while imported and imported not in known:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)
        edges[name] = targets
    return edges


def test_no_import_cycles():
    edges = graph()
    names = sorted(edges)
    index = {n: i for i, n in enumerate(names)}
    rows = [index[a] for a in names for b in edges[a]]
    cols = [index[b] for a in names for b in edges[a]]
    matrix = csr_matrix(([1] * len(rows), (rows, cols)), shape=(len(names), len(names)))
    _, component = connected_components(matrix, directed=True, connection="strong")
    groups = {}
    for name, c in zip(names, component):
        groups.setdefault(c, []).append(name)
    cycles = [sorted(g) for g in groups.values() if len(g) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_the_library_never_imports_orchestration():
    for name, path in modules().items():
        if not name.startswith("pipeline"):
            continue
        bad = {i for i in imports(path, name) if i.split(".")[0] in ("flows", "prefect", "prefect_dask", "typer")}
        assert not bad, f"{name} imports {sorted(bad)}: pipeline/ is the library, flows/ the orchestration"
