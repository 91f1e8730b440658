"""The house rules that a reader relies on, checked on the source itself.

- no import circle anywhere in ``seqbench/`` (every import statement, at any depth, counts);
- Ray is imported only under ``seqbench/runtime/``;
- no model's numbers (Enformer's input length and first-bin offset) outside ``seqbench/models/``;
- one folder per experiment: no experiment module under ``stats/``, ``report/`` or ``demo/``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "seqbench"


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PKG.rglob("*.py"):
        parts = list(f.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """Modules of the package that ``path`` imports (``from a.b import c`` counts ``a.b.c`` if it is
    a module, else ``a.b``)."""
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                mod = ".".join(base[: len(base) - node.level + 1] + ([mod] if mod else []))
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
        for t in targets:
            while t and t not in mods:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_the_cycle_finder_finds_a_planted_circle():
    # the checker itself must see a circle, or the test below could pass vacuously
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_seqbench():
    mods = _modules()
    graph = {m: _imports(m, f, mods) for m, f in mods.items()}
    assert len(graph) > 50  # the whole package was read
    assert _cycles(graph) == []


def test_ray_only_in_runtime():
    offenders = []
    for m, f in _modules().items():
        if m.startswith("seqbench.runtime"):
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "ray" or n.startswith("ray.") for n in names):
                offenders.append(m)
    assert offenders == []


def test_no_model_geometry_outside_models():
    # Enformer's input length and first-bin offset, in any spelling
    pattern = re.compile(r"\b(393_?216|139_?264|131_?072)\b")
    offenders = []
    for m, f in _modules().items():
        if m.startswith("seqbench.models") or m in ("seqbench.estimate",):
            continue
        for i, line in enumerate(f.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code) and not code.strip().startswith(('"', "'", "``")):
                offenders.append(f"{f.relative_to(PKG.parent)}:{i}: {line.strip()}")
    assert offenders == []


def test_one_folder_per_experiment():
    from seqbench.registry import BUILTINS

    for exp in BUILTINS:
        folder = PKG / "experiments" / exp.name.replace("-", "_")
        assert (folder / "__init__.py").is_file(), exp.name
        stem = exp.name.replace("-", "_")
        for shared in ("stats", "report", "demo"):
            assert not (PKG / shared / f"{stem}.py").exists(), f"{exp.name}: a module in seqbench/{shared}/"
