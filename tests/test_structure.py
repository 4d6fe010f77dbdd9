"""The package's shape (docs/design.md, "Layout"): no import cycle, small modules, layering.

The import graph is read from the source with :mod:`ast`, without importing anything:

- cycles: every import of a package module, at module level (those under
  ``if TYPE_CHECKING:`` included: a cycle that only type checking sees is still a concept in
  the wrong place) and inside functions (a function-level import that only breaks a cycle at
  run time hides it; the femur modules of issue 11 had exactly that). Function-level imports
  of heavy third-party libraries, and the CLI's lazy imports of lower layers, cannot close a
  cycle and are not affected;
- layering: every import too, since a lazy import of a higher layer is still a dependency.

Shared concepts have one home (docs/design.md, "Layout"): no module but
``fracturelab.typing`` binds one of its array or path type names, and none but
``fracturelab.checks`` calls ``difflib.get_close_matches``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "fracturelab"
MAX_LINES = 500
#: The one module allowed to call difflib for "did you mean" hints.
CHECKS_MODULE = f"{PACKAGE}.checks"
#: The module that declares the shared array and path types.
TYPING_MODULE = f"{PACKAGE}.typing"

#: Layer of each top-level module or subpackage; imports may only go to the same or a lower one.
LAYERS = {
    "__init__": 0,
    "errors": 0,
    "outputs": 0,
    "checks": 0,
    "typing": 0,
    "document": 0,
    "lazy": 0,
    "progress": 0,
    "threads": 0,
    "imaging": 1,
    "evaluation": 1,
    "training": 1,
    "spine": 2,
    "femur": 2,
    "synth": 2,
    "workstation": 3,
    "batch": 3,
    "pacs": 3,
    "grandchallenge": 3,
    "cli": 4,
    "__main__": 4,
}


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every Python file of the package."""
    modules = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _top_level(tree: ast.Module) -> Iterator[ast.stmt]:
    """Statements run when the module is imported: into if/try/with blocks, not into defs."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            pending.extend(getattr(node, field, []))
        for handler in getattr(node, "handlers", []):
            pending.extend(handler.body)


def _targets(node: ast.stmt, module: str) -> list[str]:
    """The package modules an import statement of ``module`` loads (the deepest that exist)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            base = base if _is_package(module) else base[:-1]
            base = base[: len(base) - node.level + 1]
            stem = ".".join(base + ([node.module] if node.module else []))
        else:
            stem = node.module or ""
        names = [f"{stem}.{alias.name}" for alias in node.names] + [stem]
    found = []
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name.startswith(PACKAGE) and name != module and name not in found:
            found.append(name)
    if isinstance(node, ast.ImportFrom) and len(found) > 1:
        # `from a import b` with b a module loads a.b; `a` itself only when names come from it.
        submodules = [n for n in found if n != found[-1]]
        stem_used = any(f"{found[-1]}.{alias.name}" not in MODULES for alias in node.names)
        found = submodules + ([found[-1]] if stem_used else [])
    return found


def _imports(module: str, *, everywhere: bool = True) -> list[tuple[str, int]]:
    """``(imported module, line)`` of ``module``'s imports of the package.

    Args:
        module: Dotted module name.
        everywhere: Also imports inside functions and classes; else only those run when the
            module is imported (module level, ``if`` / ``try`` / ``with`` blocks included).

    """
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    nodes = ast.walk(tree) if everywhere else _top_level(tree)
    return [
        (target, node.lineno)
        for node in nodes
        if isinstance(node, ast.Import | ast.ImportFrom)
        for target in _targets(node, module)
    ]


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for root in sorted(graph):
        if root in state:
            continue
        path = [root]
        iterators = [iter(graph[root])]
        state[root] = 1
        while iterators:
            child = next(iterators[-1], None)
            if child is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif child not in state:
                state[child] = 1
                path.append(child)
                iterators.append(iter(graph.get(child, [])))
    return None


def _assigned_names(tree: ast.AST) -> set[str]:
    """Names bound by ``name = ...`` or ``name: T = ...`` anywhere in ``tree``."""
    names = set()
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


def _close_match_calls(tree: ast.AST) -> list[int]:
    """Lines that use ``difflib.get_close_matches`` (attribute access or ``from`` import)."""
    lines = []
    for node in ast.walk(tree):
        used = isinstance(node, ast.Attribute) and node.attr == "get_close_matches"
        imported = isinstance(node, ast.ImportFrom) and node.module == "difflib"
        if imported and any(alias.name == "get_close_matches" for alias in node.names):
            used = True
        if used:
            lines.append(node.lineno)
    return sorted(lines)


def _shared_types() -> list[str]:
    """The names in ``fracturelab.typing.__all__``, read without importing it."""
    tree = ast.parse(MODULES[TYPING_MODULE].read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"{TYPING_MODULE} has no __all__")


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else "__init__"]


def test_the_module_list_and_the_layers_agree():
    unknown = sorted({m.split(".")[1] for m in MODULES if "." in m} - set(LAYERS))
    assert not unknown, f"give these a layer in LAYERS (and in docs/design.md): {unknown}"


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_tree():
    assert _find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None


def test_relative_and_submodule_imports_are_resolved():
    both = ast.parse("from fracturelab.imaging import volume, Volume").body[0]
    assert _targets(both, "fracturelab.spine.pipeline") == [
        "fracturelab.imaging.volume",
        "fracturelab.imaging",
    ]
    submodule = ast.parse("from fracturelab.imaging import volume").body[0]
    assert _targets(submodule, "fracturelab.spine.pipeline") == ["fracturelab.imaging.volume"]
    relative = ast.parse("from .errors import InputError").body[0]
    assert _targets(relative, "fracturelab.outputs") == ["fracturelab.errors"]
    parent = ast.parse("from ..errors import InputError").body[0]
    assert _targets(parent, "fracturelab.imaging.volume") == ["fracturelab.errors"]


def test_type_checking_and_function_imports_are_in_the_graph():
    source = "\n".join(
        [
            "if TYPE_CHECKING:",
            "    import fracturelab.errors",
            "def f():",
            "    import fracturelab.checks",
        ]
    )
    tree = ast.parse(source)
    top = [n for n in _top_level(tree) if isinstance(n, ast.Import)]
    assert [n.names[0].name for n in top] == ["fracturelab.errors"]
    every = [n for n in ast.walk(tree) if isinstance(n, ast.Import)]
    assert {n.names[0].name for n in every} == {"fracturelab.errors", "fracturelab.checks"}


def test_no_import_cycle():
    graph = {module: [target for target, _ in _imports(module)] for module in MODULES}
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_module_over_500_lines():
    sizes = {
        module: len(path.read_text(encoding="utf-8").splitlines())
        for module, path in MODULES.items()
    }
    over = sorted(f"{m} ({n} lines)" for m, n in sizes.items() if n > MAX_LINES)
    assert not over, f"modules over {MAX_LINES} lines; split them by concept: {over}"


def test_lower_layers_never_import_higher_ones():
    wrong = [
        f"{module}:{line} imports {target}"
        for module in MODULES
        for target, line in _imports(module)
        if _layer(target) > _layer(module)
    ]
    assert not wrong, "imports against the layering of docs/design.md: " + "; ".join(wrong)


def test_the_alias_and_difflib_finders_find_them():
    source = "\n".join(
        [
            "import difflib",
            "from difflib import get_close_matches as gcm",
            "FloatArray = npt.NDArray[np.float32]",
            "IntArray: TypeAlias = npt.NDArray[np.int64]",
            "values: FloatArray = np.zeros(3)",
            "def f(value, options):",
            "    return difflib.get_close_matches(value, options)",
        ]
    )
    tree = ast.parse(source)
    assert {"FloatArray", "IntArray"} <= _assigned_names(tree)
    assert "values" in _assigned_names(tree)
    assert _close_match_calls(tree) == [2, 7]
    assert "FloatArray" in _shared_types()
    clean = ast.parse("from fracturelab.typing import FloatArray\nx: FloatArray = f()")
    assert _close_match_calls(clean) == []
    assert "FloatArray" not in _assigned_names(clean)


def test_array_types_are_imported_from_fracturelab_typing():
    shared = set(_shared_types())
    own = sorted(
        f"{module} defines {name}"
        for module, path in MODULES.items()
        if module != TYPING_MODULE
        for name in _assigned_names(ast.parse(path.read_text(encoding="utf-8"))) & shared
    )
    assert not own, f"import these from {TYPING_MODULE} instead: " + "; ".join(own)


def test_did_you_mean_hints_come_from_fracturelab_checks():
    calls = sorted(
        f"{module}:{line}"
        for module, path in MODULES.items()
        if module != CHECKS_MODULE
        for line in _close_match_calls(ast.parse(path.read_text(encoding="utf-8")))
    )
    assert not calls, (
        f"difflib.get_close_matches outside {CHECKS_MODULE}; use check_choice, did_you_mean "
        "or closest_match there: " + "; ".join(calls)
    )
