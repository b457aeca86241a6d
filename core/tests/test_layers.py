"""The core's modules stand in layers: each imports only from its own layer or below, and nothing imports in a loop.

The layers are CONTRIBUTING.md's architecture section, bottom first. A new module must be placed here; an
import that runs upwards (a lower layer reaching a higher one, even under TYPE_CHECKING) fails this test.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "smsgate"

LAYERS = [
    # the vocabulary: no smsgate imports at all
    {"_auth", "_errors", "_fields", "_json", "_models", "_phones", "_text", "_transport", "store._migrations",
     "store._urls", "store._paging"},
    # what a message, an event, a config and a log are
    {"_config", "_events", "_channellog", "store._rules", "store._pg_migrations"},
    {"_logging", "_http", "store._records"},
    # storage: the Store seam and its backends
    {"store", "store._protocol", "store._sqlite", "store._postgres", "store._open", "store._copy", "store._wakeup",
     "store.conformance", *(f"store._sqlite.{m}" for m in ("_connection", "_rows", "_statuses", "_base", "_sends",
                                                           "_inbound", "_outbox", "_reads", "_upkeep")),
     *(f"store._postgres.{m}" for m in ("_connection", "_rows", "_statuses", "_base", "_sends", "_inbound",
                                        "_outbox", "_reads", "_upkeep"))},
    # the adapter contract
    {"_adapter"},
    {"hookspecs", "_requests", "_bridges", "_outbox"},
    {"plugins", "_platform"},
    # the pipelines
    {"_gateway"},
    {"_worker", "_api"},
    # what operators see: /metrics and the /ui console
    {"_metrics", "console", "console._chart", "console._session"},
    # composition: the app, the server
    {"_app", "_server"},
    # faces: what adapter authors, hosts and tests import
    {"", "host", "testing"},
]
LAYER = {module: index for index, layer in enumerate(LAYERS) for module in layer}


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
            found.update(n if n in LAYER else n.rsplit(".", 1)[0] if n.rsplit(".", 1)[0] in LAYER else n
                         for n in names)
    found.discard(module)
    return found


MODULES = {_name(p): p for p in ROOT.rglob("*.py")}


def test_every_module_has_a_layer():
    assert sorted(set(MODULES) - set(LAYER)) == [], "place the new module in LAYERS (and CONTRIBUTING.md)"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_never_run_upwards(module):
    upward = sorted(d for d in _imports(MODULES[module]) if LAYER.get(d, -1) > LAYER[module])
    assert upward == [], f"{module or 'smsgate'} (layer {LAYER[module]}) imports higher layers: {upward}"


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
