"""The benchmark scripts still import: a refactor that moves or renames a textclf name breaks them here, in the
test run, not hours later in `make claims` (issue 36's claims run once failed on a removed name)."""

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


def _textclf_imports(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "textclf":
            for alias in node.names:
                yield node.module, alias.name


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda path: path.name)
def test_every_textclf_name_a_benchmark_imports_exists(path):
    missing = []
    for module_name, name in _textclf_imports(path):
        module = importlib.import_module(module_name)
        if not hasattr(module, name):
            try:
                importlib.import_module(f"{module_name}.{name}")
            except ImportError:
                missing.append(f"{module_name}.{name}")
    assert not missing, f"{path.name} imports names that no longer exist: {missing}"
