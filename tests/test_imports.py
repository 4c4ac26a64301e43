"""The package's import graph: no cycles (counting imports inside functions too), and no module
imports from a layer above its own (the layers of docs/ARCHITECTURE.md)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "code" / "cnsr"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _ancestors(name: str):
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def import_graph():
    """module -> the package modules it imports anywhere in its file (importing ``a.b.c`` also
    imports the packages ``a.b`` and ``a``, except the importer's own parents)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - node.level + 1] + ([node.module] if node.module else [])
                    target = ".".join(base)
                else:
                    target = node.module or ""
                targets = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for t in targets:
                if t in files:
                    deps |= {x for x in {t} | _ancestors(t) if x in files and x != name and x not in _ancestors(name)}
        graph[name] = deps
    return graph


def find_cycles(graph):
    state, cycles = {}, []

    def visit(u, stack):
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                cycles.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v, stack)
        stack.pop()
        state[u] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    return cycles


def test_cycle_finder_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_graph_sees_relative_and_lazy_imports():
    graph = import_graph()
    assert "cnsr.data.layout" in graph["cnsr.data.loader"]          # module top, relative
    assert "cnsr.data.views" in graph["cnsr.data.onthefly"]
    assert "cnsr.passes" in graph["cnsr.data.layout"]                 # parent-relative
    assert "cnsr.data" in graph["cnsr.engine.cli"]                    # inside a function (lazy)


def test_no_import_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


#: The layers of docs/ARCHITECTURE.md, bottom first: a module may import its own layer and those
#: below it. A registry finds the components of upper layers by importing them by name
#: (importlib), which is no import of this graph.
LAYERS = [
    ("cnsr.passes", "cnsr.config", "cnsr.settings", "cnsr.registry", "cnsr.schedules", "cnsr.metrics", "cnsr.io",
     "cnsr.config_drift", "cnsr.overrides", "cnsr.arguments"),
    ("cnsr.render", "cnsr.assets"),
    ("cnsr.scenes",),
    ("cnsr.data",),
    ("cnsr.models",),
    ("cnsr.engine",),
    ("cnsr.analysis", "cnsr.viewer"),
    ("cnsr.experiments",),
]


def layer(module: str) -> int:
    """The layer of a module; the package root ``cnsr`` (a lazy facade) is above them all."""
    for i, names in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return i
    assert module == "cnsr", f"{module} is in no layer: add it to LAYERS (and docs/ARCHITECTURE.md)"
    return len(LAYERS)


def upward_imports(graph):
    return sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps if layer(d) > layer(m))


def test_no_module_imports_from_a_higher_layer():
    bad = upward_imports(import_graph())
    assert not bad, "imports from a higher layer: " + "; ".join(bad)


def test_layer_check_sees_an_upward_import():
    assert upward_imports({"cnsr.config": {"cnsr.models.model", "cnsr.passes"},
                           "cnsr.viewer.gqn": {"cnsr.analysis.attribution", "cnsr.scenes"}}) == \
        ["cnsr.config -> cnsr.models.model"]
    assert layer("cnsr.io.preview") == layer("cnsr.registry") == 0 < layer("cnsr.render.scene")


def test_metrics_and_display_are_leaves():
    """The monitor, evaluation and the viewers all use them: they import no layer above them."""
    graph = import_graph()
    assert graph["cnsr.metrics"] <= {"cnsr.registry", "cnsr.settings"}
    assert graph["cnsr.io.preview"] <= {"cnsr.io", "cnsr.io.png", "cnsr.io.atomic", "cnsr.passes"}
