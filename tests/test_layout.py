"""The package's layout holds: no import cycles, and no library module imports a command.

Imports are read with :mod:`ast` from every module of ``accel``, ``model`` and ``boards``,
those inside functions included (a lazy import is still a dependency). Command modules are
the command-line layer: ``accel.cli.*``, the ``python -m`` entry modules beside it, and
``model.train``, ``model.plot`` and ``boards.receive``.
"""

import ast

import pytest

from tests.paths import ROOT

PACKAGES = ("accel", "model", "boards")

#: Modules that ``python -m`` runs and that only hand over to a command.
ENTRY_MODULES = {"accel.build", "accel.sim", "accel.bench", "accel.check_fp32", "accel.size"}


def is_command(module):
    return (module.startswith("accel.cli.") or module in ENTRY_MODULES
            or module in ("model.train", "model.plot", "boards.receive"))


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _imports(module, path, known):
    """Modules of the package that ``module`` imports (``from x import y`` counts ``x.y``
    when that is a module, else ``x``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            targets = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in known else prefix
                       for alias in node.names]
        else:
            continue
        for target in targets:
            # a.b.c imports a and a.b too, but those are packages: count the deepest module
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                out.add(target)
    return out


@pytest.fixture(scope="module")
def graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_the_graph_is_read(graph):
    # The walk must see the package as it is, or the checks below prove nothing.
    assert "accel.gateware.core" in graph["accel.flows.export"]
    assert "accel.config" in graph["accel.gateware.core"]
    assert "accel.flows.build" in graph["accel.cli.build"]
    assert "accel.cli.registry" in graph["accel.sim"]


def _cycle(graph):
    """One import cycle among the package's modules (package ``__init__`` modules, which
    import nothing here, left aside), or ``None``."""
    state = {}
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle(graph):
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_library_module_imports_a_command(graph):
    bad = sorted((lib, cmd) for lib, deps in graph.items() if not is_command(lib)
                 for cmd in deps if is_command(cmd))
    assert not bad, f"library modules importing commands: {bad}"


def test_commands_are_thin(graph):
    # A command module parses arguments and prints: the work is a library function.
    for module, path in _modules().items():
        # The registry is the list of commands (a dataclass of names), not a command.
        if (module.startswith("accel.cli.") and not module.endswith("__init__")
                and module != "accel.cli.registry"):
            tree = ast.parse(path.read_text())
            classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
            assert not classes, f"{module} defines {classes}: library code belongs in a library"
