"""The layout keeps the architecture: the core never imports the UI, its packages import
each other in one direction, and modules and classes stay short.

Read from the source (AST), so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "assessment"
# Application code held to the size limits (tests and benches are not).
SIZED = [*CORE.rglob("*.py"), *(REPO / "views").glob("*.py"), *(REPO / "web").glob("*.py"), REPO / "app.py",
         REPO / "serve.py"]
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 250
UI_MODULES = ("streamlit", "views", "app")


def core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def imported_modules(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved.

    `from . import x` counts as importing the package's module `x`; a dynamic import with a
    literal name (importlib.import_module("..."), __import__("...")) counts too.
    """
    package = path.relative_to(root).with_suffix("").parts[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, module))
            if not node.module:  # from . import a, b: the modules a and b
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def area(module: str) -> str | None:
    """The core package (or top-level module) a module belongs to: 'store' for
    'assessment.store.engine', 'i18n' for 'assessment.i18n'; None outside the core."""
    parts = module.split(".")
    return parts[1] if parts[0] == "assessment" and len(parts) > 1 else None


def test_the_scan_sees_every_kind_of_import(tmp_path):
    # On a module of a made-up core package: each spelling must be caught.
    sample = tmp_path / "assessment" / "store" / "sample.py"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        "import streamlit as st\n"
        "from streamlit.runtime import caching\n"
        "from ..charts import scores\n"
        "from . import engine\n"
        "def later():\n"
        "    from views.common import lang\n"
        "    import importlib\n"
        "    return importlib.import_module('app')\n")
    names = [name for _line, name in imported_modules(sample, root=tmp_path)]
    assert "streamlit" in names and "streamlit.runtime" in names
    assert "assessment.charts" in names and "assessment.store.engine" in names
    assert "views.common" in names and "app" in names


def test_the_core_never_imports_streamlit_or_the_pages():
    offending = [f"{relative(path)}:{line}: imports {module}"
                 for path in core_modules() for line, module in imported_modules(path)
                 if module.split(".")[0] in UI_MODULES]
    assert not offending, "the core must not import the UI:\n" + "\n".join(offending)


def test_the_web_layer_uses_the_core_never_the_pages():
    # web/ (the phone routes, the middleware) runs beside the Streamlit pages, not inside them:
    # no script run, so no st.* calls and nothing from views/ or app.py.
    offending = [f"{relative(path)}:{line}: imports {module}"
                 for path in sorted((REPO / "web").glob("*.py")) for line, module in imported_modules(path)
                 if module.split(".")[0] in UI_MODULES]
    assert not offending, "web/ must not import the pages or streamlit:\n" + "\n".join(offending)


def test_core_packages_import_each_other_in_one_direction():
    edges: dict[str, set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    for path in core_modules():
        source = area(".".join(path.relative_to(REPO).with_suffix("").parts))
        for line, module in imported_modules(path):
            target = area(module)
            if source and target and target != source:
                edges.setdefault(source, set()).add(target)
                where.setdefault((source, target), f"{relative(path)}:{line}")

    def cycle_from(start: str, path: list[str]) -> list[str] | None:
        for target in sorted(edges.get(path[-1], ())):
            if target == start:
                return path + [start]
            if target not in path:
                found = cycle_from(start, path + [target])
                if found:
                    return found
        return None

    for package in sorted(edges):
        cycle = cycle_from(package, [package])
        assert cycle is None, "packages import each other in a circle: " + " -> ".join(cycle) + "\n" + \
            "\n".join(where[(a, b)] for a, b in zip(cycle, cycle[1:]))


def test_modules_and_classes_stay_short():
    too_long = []
    for path in SIZED:
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{relative(path)}: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, ast.ClassDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                size = node.end_lineno - start + 1
                if size > MAX_CLASS_LINES:
                    too_long.append(f"{relative(path)}:{start}: class {node.name} has {size} lines "
                                    f"(at most {MAX_CLASS_LINES})")
    assert not too_long, "split these by concern:\n" + "\n".join(too_long)
