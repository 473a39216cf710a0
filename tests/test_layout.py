"""The repository's layout rules, checked the way the code is: by a test.

- tests/ mirrors the source tree: tests/<pkg>/<subdir>/test_<name>.py names a real module,
  <pkg>/<subdir>/<name>.py or the package <pkg>/<subdir>/<name>/; test_<module>_<aspect>.py is
  one aspect of <module>, and test_main.py is the package's __main__.py.
- No test module is longer than 600 lines; no module of shadowproxy/ is longer than 450.
- shadowproxy's modules import each other without a cycle (the layers contract in pyproject.toml
  orders the subpackages; this catches cycles inside one of them, too).
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"

# The packages tests/ mirrors: tests/<pkg>/ holds the tests of <pkg>/.
MIRRORED = ("orchestrator", "legacy_backend", "app_service", "shadowproxy", "backend_common")
# Folders of tests/ that do not mirror a package, and why.
EXEMPT_DIRS: Mapping[str, str] = {
    "deploy": "tests the deploy/ folder (manifests, rules, dashboards), not a Python package",
    "integration": "cross-cutting: both real backends driving the same kernel",
    "benchmarks": "cross-cutting: `make bench` end to end, proxy and backends together",
}
# Test modules directly in tests/: the checks of the repository as a whole.
TOP_LEVEL = frozenset({"test_layout.py"})


# ---------------------------------------------------------------- tests/ mirrors the sources


def _names_source(folder: Path, name: str) -> bool:
    """`name` is a module or a package of `folder` (`main` stands for `__main__.py`)."""
    if not name:
        return False
    if name == "main" and (folder / "__main__.py").is_file():
        return True
    return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()


def _source_folder(test: Path, package: str) -> Path:
    """tests/<package>/<subdir>/test_x.py -> <package>/<subdir>/"""
    return ROOT / package / test.parent.relative_to(TESTS / package)


def _mirrors(test: Path, package: str) -> bool:
    """tests/<package>/<subdir>/test_<name>.py names <package>/<subdir>/<name>, or
    test_<module>_<aspect>.py names <package>/<subdir>/<module>."""
    folder = _source_folder(test, package)
    name = test.stem.removeprefix("test_")
    if _names_source(folder, name):
        return True
    parts = name.split("_")
    return any(_names_source(folder, "_".join(parts[:cut])) for cut in range(1, len(parts)))


def _test_modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("test_*.py") if "__pycache__" not in p.parts)


def _modules_of(folder: Path) -> str:
    if not folder.is_dir():
        return "(no such folder)"
    names = sorted(
        "main" if p.stem == "__main__" else p.stem
        for p in folder.glob("*.py")
        if p.stem != "__init__"
    )
    packages = sorted(p.name + "/" for p in folder.iterdir() if (p / "__init__.py").is_file())
    return ", ".join(names + packages)


@pytest.mark.parametrize("package", [pytest.param(name, id=name) for name in MIRRORED])
def test_every_test_module_names_a_source_module(package: str) -> None:
    if not (ROOT / package).is_dir() and not (TESTS / package).is_dir():
        pytest.skip(f"no {package}/ package in this tree")
    unmatched = [t for t in _test_modules(TESTS / package) if not _mirrors(t, package)]
    folders = sorted({_source_folder(test, package) for test in unmatched})
    assert unmatched == [], (
        f"{len(unmatched)} test module(s) of tests/{package}/ name no module of {package}/ "
        "(rename to test_<module>.py, test_<module>_<aspect>.py or test_main.py):\n"
        + "\n".join(f"  {test.relative_to(ROOT)}" for test in unmatched)
        + "\nthe modules there:\n"
        + "\n".join(f"  {f.relative_to(ROOT)}/: {_modules_of(f)}" for f in folders)
    )


def test_every_test_folder_mirrors_a_package_or_is_exempt() -> None:
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and p.name != "__pycache__"}
    unknown = sorted(folders - set(MIRRORED) - set(EXEMPT_DIRS))
    assert unknown == [], f"tests/ folders that mirror no package and are not exempt: {unknown}"
    loose = sorted(p.name for p in TESTS.glob("test_*.py") if p.name not in TOP_LEVEL)
    assert loose == [], f"test modules directly in tests/ (put them in tests/<pkg>/): {loose}"


@pytest.mark.parametrize(
    ("test", "package", "mirrors"),
    [
        pytest.param("orchestrator/test_config.py", "orchestrator", True, id="module"),
        pytest.param("orchestrator/test_llm.py", "orchestrator", True, id="package"),
        pytest.param("orchestrator/llm/test_matrix.py", "orchestrator", True, id="subpackage"),
        pytest.param("orchestrator/test_main.py", "orchestrator", True, id="main"),
        pytest.param("orchestrator/test_market_data_csv.py", "orchestrator", True, id="aspect"),
        # lenient on purpose: any module prefix will do (orchestrator/orchestrator.py here)
        pytest.param("orchestrator/test_orchestrator_cli.py", "orchestrator", True, id="prefix"),
        pytest.param("orchestrator/test_cli.py", "orchestrator", False, id="no-such-module"),
        pytest.param("orchestrator/test_data_x.py", "orchestrator", False, id="not-a-package"),
        pytest.param("orchestrator/nope/test_config.py", "orchestrator", False, id="no-folder"),
        pytest.param("orchestrator/test_.py", "orchestrator", False, id="empty-name"),
    ],
)
def test_the_mirror_rule(test: str, package: str, mirrors: bool) -> None:
    """The rule against the real orchestrator/ tree (orchestrator/data/ has no __init__.py)."""
    assert _mirrors(TESTS / test, package) is mirrors


# ---------------------------------------------------------------- file sizes


@pytest.mark.parametrize(
    ("folder", "pattern", "limit"),
    [
        pytest.param("tests", "test_*.py", 600, id="test-modules-600"),
        pytest.param("shadowproxy", "*.py", 450, id="shadowproxy-modules-450"),
    ],
)
def test_no_file_is_too_long(folder: str, pattern: str, limit: int) -> None:
    paths = sorted(p for p in (ROOT / folder).rglob(pattern) if "__pycache__" not in p.parts)
    assert paths, f"no {folder}/**/{pattern}"
    counts = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in paths}
    offenders = [f"{p.relative_to(ROOT)}: {n} lines" for p, n in counts.items() if n > limit]
    assert offenders == [], (
        f"{len(offenders)} file(s) {folder}/**/{pattern} over {limit} lines (split them):\n  "
        + "\n  ".join(offenders)
    )


# ---------------------------------------------------------------- shadowproxy has no import cycle

Graph = Mapping[str, Collection[str]]


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time(body: Sequence[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that run when the module is imported: its top level, through if/try/with
    blocks and class bodies, but not function bodies nor `if TYPE_CHECKING:`."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _import_time(node.body)
            yield from _import_time(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _import_time(block)
            for handler in node.handlers:
                yield from _import_time(handler.body)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from _import_time(node.body)


def _imports(module: str, is_package: bool, source: str, known: frozenset[str]) -> set[str]:
    """The modules of `known` that `module` imports at import time.

    `from a.b import c` is a.b.c when that is a module, else a.b; relative imports are resolved
    against the module's package; a name outside `known` falls back to its longest known prefix.
    """

    def known_prefix(name: str) -> str | None:
        parts = name.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()
        return ".".join(parts) or None

    package = module if is_package else module.rpartition(".")[0]
    found: set[str | None] = set()
    for node in _import_time(ast.parse(source).body):
        if isinstance(node, ast.Import):
            found.update(known_prefix(alias.name) for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            target = f"{base}.{alias.name}"
            found.add(target if target in known else known_prefix(base))
    return {name for name in found if name is not None and name != module}


def import_graph(root: Path, package: str) -> dict[str, frozenset[str]]:
    """Module -> the modules of `package` it imports (a package is its __init__.py)."""
    paths = {_module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    known = frozenset(paths)
    return {
        name: frozenset(
            _imports(name, path.name == "__init__.py", path.read_text(encoding="utf-8"), known)
        )
        for name, path in paths.items()
    }


def find_cycle(graph: Graph) -> list[str] | None:
    """One import cycle as a path that ends where it starts ([a, b, a]), or None."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = [start]
        on_path = {start}
        pending: list[Iterator[str]] = [iter(sorted(graph.get(start, ())))]
        while pending:
            successor = next(pending[-1], None)
            if successor is None:
                pending.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif successor in on_path:
                return [*path[path.index(successor) :], successor]
            elif successor not in done:
                path.append(successor)
                on_path.add(successor)
                pending.append(iter(sorted(graph.get(successor, ()))))
    return None


def test_shadowproxy_has_no_import_cycle() -> None:
    graph = import_graph(ROOT, "shadowproxy")
    assert "shadowproxy.types" in graph
    assert any(graph.values()), "no import between shadowproxy's modules was found"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in shadowproxy/: " + " -> ".join(cycle or ())


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        pytest.param({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"], id="triangle"),
        pytest.param({"a": {"a"}}, ["a", "a"], id="self-import"),
        pytest.param({"a": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"], id="cycle-below"),
        pytest.param({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}, None, id="diamond"),
        pytest.param({"a": {"b"}, "b": {"x"}}, None, id="edge-out-of-graph"),
        pytest.param({}, None, id="empty"),
    ],
)
def test_find_cycle(graph: dict[str, set[str]], cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle


KNOWN = frozenset({"pkg", "pkg.a", "pkg.b", "pkg.sub", "pkg.sub.c", "pkg.sub.d"})


@pytest.mark.parametrize(
    ("source", "imported"),
    [
        pytest.param("import pkg.a", {"pkg.a"}, id="import"),
        pytest.param("import pkg.a.name", {"pkg.a"}, id="import-falls-back-to-module"),
        pytest.param("from pkg import a, b", {"pkg.a", "pkg.b"}, id="from-modules"),
        pytest.param("from pkg.a import Thing", {"pkg.a"}, id="from-module-a-name"),
        pytest.param("from pkg import a, VALUE", {"pkg.a", "pkg"}, id="from-package"),
        pytest.param("from . import d", {"pkg.sub.d"}, id="relative-sibling"),
        pytest.param("from ..a import Thing", {"pkg.a"}, id="relative-parent"),
        pytest.param("import os\nfrom json import dumps", set(), id="outside-the-package"),
        pytest.param("from pkg.sub import c as cc", set(), id="self-import-dropped"),
        pytest.param(
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n"
            "else:\n    import pkg.b",
            {"pkg.b"},
            id="type-checking-ignored",
        ),
        pytest.param("import typing\nif typing.TYPE_CHECKING:\n    import pkg.a", set(), id="attr"),
        pytest.param("def f():\n    import pkg.a", set(), id="function-body-ignored"),
        pytest.param(
            "try:\n    import pkg.a\nexcept ImportError:\n    import pkg.b\n"
            "class K:\n    import pkg.sub",
            {"pkg.a", "pkg.b", "pkg.sub"},
            id="import-time-blocks",
        ),
    ],
)
def test_imports(source: str, imported: set[str]) -> None:
    assert _imports("pkg.sub.c", False, source, KNOWN) == imported


def test_a_cycle_in_a_package_is_found(tmp_path: Path) -> None:
    """The whole check, on a hand-made package whose cycle goes through an __init__.py."""
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "import pkg.sub\n",
        "pkg/sub/__init__.py": "from pkg.sub.c import X\n",
        "pkg/sub/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n"
        "def f():\n    import pkg.a\nX = 1\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.sub"] == {"pkg.sub.c"}
    assert find_cycle(graph) is None
    (tmp_path / "pkg/sub/c.py").write_text("from pkg import a\nX = 1\n", encoding="utf-8")
    graph = import_graph(tmp_path, "pkg")
    assert find_cycle(graph) == ["pkg.a", "pkg.sub", "pkg.sub.c", "pkg.a"]
