"""The package's layout holds: every module has a rank, no module imports one of a higher
rank, no import cycles, and no library module imports a command.

Imports are read with :mod:`ast` from every module of ``accel``, ``model`` and ``boards``,
those inside functions included (a lazy import is still a dependency). Command modules are
the command-line layer: ``accel.cli.*``, the ``python -m`` entry modules beside it, and
``model.train``, ``model.plot`` and ``boards.receive``.

The rank table below is the one the architecture page of the manual draws
(``docs/architecture.md``, "Layers of the code"); a module may import its own rank and any
rank below it.
"""

import ast

import pytest

from tests.paths import ROOT
from accel.cli.registry import COMMANDS

PACKAGES = ("accel", "model", "boards")

#: Modules that ``python -m`` runs and that only hand over to a command (every command's
#: entry that is not the command's own module).
ENTRY_MODULES = {c.entry for c in COMMANDS if c.entry != c.module}


#: Ranks, lowest first: ``(name, module prefixes)``. A module takes the rank of its longest
#: matching prefix; commands (:func:`is_command`) are the top rank whatever their package.
RANKS = (
    ("support", ("model.support",)),
    ("model", ("model",)),
    ("interface", ("accel.host.registers", "accel.host.errors")),
    ("configuration", ("accel", "accel.config", "accel.plan", "accel.cycles", "accel.device",
                       "accel.sizing")),
    ("host software", ("accel.host",)),
    ("number formats", ("accel.formats",)),
    ("gateware", ("accel.gateware",)),
    ("flows and boards", ("accel.flows", "boards")),
    ("commands", ("accel.cli",)),
)


def rank(module):
    """Index into :data:`RANKS` of ``module``; ``None`` if no prefix matches."""
    if is_command(module):
        return len(RANKS) - 1
    best = None
    for index, (_, prefixes) in enumerate(RANKS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    return None if best is None else best[0]


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


def test_every_module_has_a_rank(graph):
    assert not [m for m in graph if rank(m) is None]


def test_no_module_imports_a_higher_rank(graph):
    bad = sorted(f"{module} ({RANKS[rank(module)][0]}) imports {dep} ({RANKS[rank(dep)][0]})"
                 for module, deps in graph.items() for dep in deps if rank(dep) > rank(module))
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_rank_of_a_few_modules():
    # The table itself: where the layers the manual names sit.
    order = [rank(m) for m in ("model.support.errors", "model.quant", "accel.host.registers",
                               "accel.config", "accel.host.driver", "accel.formats.fp32",
                               "accel.gateware.core", "accel.flows.build", "accel.cli.build")]
    assert order == sorted(order) and len(set(order)) == len(order)
    assert rank("model.train") == rank("accel.cli.sim") == rank("boards.receive")
    assert rank("boards.top") == rank("accel.flows.export")


def test_the_architecture_page_and_the_readme_draw_the_rank_table():
    page = (ROOT / "docs" / "architecture.md").read_text()
    for index, (name, prefixes) in enumerate(RANKS):
        row = next(line for line in page.splitlines() if line.startswith(f"| {index} | {name} |"))
        for prefix in prefixes:
            if prefix != "accel":           # the package's own __init__, which imports nothing
                assert f"`{prefix}`" in row, (name, prefix)
    readme = (ROOT / "README.md").read_text()
    layers = " ".join(readme[readme.index("## Layers"):].split("\n## ")[0].split())
    at = [layers.find(name) for name, _ in RANKS]
    assert -1 not in at and at == sorted(at), dict(zip((n for n, _ in RANKS), at))


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
