"""Dependencies point down only: server.py -> handlers -> services -> actors -> store -> config.

A module may import from its own layer or any layer below it, never from one above. Pure
helpers (errors, keys, validation schemas, forecasting maths) live in `store/` so every layer
above can use them (docs/architecture.md).
"""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
LAYERS = ["config", "store", "actors", "services", "handlers"]  # lowest first


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def test_no_module_imports_a_layer_above_its_own():
    climbing = []
    for rank, layer in enumerate(LAYERS):
        above = set(LAYERS[rank + 1:])
        for path in sorted((ROOT / layer).rglob("*.py")):
            for line, module in _imports(path):
                top = module.split(".", 1)[0]
                if top in above or top == "server":
                    climbing.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert climbing == [], "modules importing a layer above their own:\n" + "\n".join(climbing)


def test_the_layering_check_sees_a_climbing_import(tmp_path):
    # The check itself must be able to fail: a store module importing handlers is caught.
    probe = tmp_path / "probe.py"
    probe.write_text("from handlers.errors import ApiError\nimport services.mailer\n")
    assert [m for _, m in _imports(probe)] == ["handlers.errors", "services.mailer"]
