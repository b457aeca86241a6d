"""The core's folders are its layers: each module imports only from its own layer or below, with no loops.

A layer is a package (`store`, `web`, ...) or a flat module; a package's modules share their package's layer,
and may import one another as long as no loop forms. The order is CONTRIBUTING.md's architecture section,
bottom first. A new package or flat module must be placed here; an import that runs upwards (a lower layer
reaching a higher one, even under TYPE_CHECKING or inside a function) fails this test.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "smsgate"

LAYERS = [
    # the vocabulary: messages and events, the error tree, text, phone numbers, strict JSON
    {"_models", "_events", "errors", "text", "phones", "_json"},
    # the configuration and the values it holds
    {"config"},
    # talking to aggregators over HTTP: channel logs, the client, its transport
    {"_http"},
    # storage: the Store seam and its backends
    {"store"},
    # the adapter contract
    {"_adapter"},
    # plugins: hook specs and entry points
    {"hookspecs", "plugins"},
    # the platform side: webhooks, bridges, the outbox dispatcher
    {"platform"},
    # the pipelines: the gateway and its send worker
    {"gateway"},
    # what smsgate serves: the app, the API, metrics, the console, the server
    {"web"},
    # faces: what adapter authors, hosts and tests import
    {"", "http", "host", "testing"},
]
FLAT_MODULES_AT_MOST = 14


def layer_of(module: str) -> int | None:
    """The layer of a module: its own entry, else its nearest enclosing package's."""
    parts = module.split(".") if module else [""]
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        for index, layer in enumerate(LAYERS):
            if name in layer:
                return index
    return None


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The smsgate modules `path` imports (relative or absolute, TYPE_CHECKING included), by their LAYERS name."""
    module = _name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    package = [p for p in package if p]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [".".join(target)] if node.module else [".".join([*target, a.name]) for a in node.names]
            elif node.module and node.module.split(".")[0] == "smsgate":
                names = [node.module.removeprefix("smsgate").lstrip(".")]
            else:
                continue
            found.update(n if n in MODULES else n.rsplit(".", 1)[0] for n in names)
    found.discard(module)
    return found


MODULES = {_name(p): p for p in ROOT.rglob("*.py")}


def test_every_module_has_a_layer():
    assert sorted(m for m in MODULES if layer_of(m) is None) == [], "place it in LAYERS (and CONTRIBUTING.md)"


def test_few_flat_modules():
    flat = sorted(p.name for p in ROOT.glob("*.py"))
    assert len(flat) <= FLAT_MODULES_AT_MOST, f"{len(flat)} flat modules: put new ones in a layer's package {flat}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_never_run_upwards(module):
    own = layer_of(module)
    upward = sorted(d for d in _imports(MODULES[module]) if (layer_of(d) or 0) > own)
    assert upward == [], f"{module or 'smsgate'} (layer {own}) imports higher layers: {upward}"


def test_no_import_loops():
    graph = {m: _imports(p) & set(MODULES) for m, p in MODULES.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                raise AssertionError("import loop: " + " -> ".join([*path, node, dep]))
            if dep not in state:
                visit(dep, [*path, node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
