"""The import contracts of .importlinter: the pure core imports no fairseq and nothing above it,
and nothing outside cli/ imports the CLIs (dependencies point down); and the size limits of
xtune_fairseq/'s modules and functions."""

import ast
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_import_contracts_hold():
    # a subprocess: import-linter puts the current folder on sys.path and configures logging
    lint = os.path.join(os.path.dirname(sys.executable), "lint-imports")
    proc = subprocess.run([lint, "--config", ".importlinter", "--no-cache", "--no-logo"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def test_modules_and_functions_are_short():
    """No module of xtune_fairseq/ over 300 lines, no function (or method, nested or not) over 60."""
    package = os.path.join(ROOT, "xtune_fairseq")
    offenders = []
    for folder, _, files in os.walk(package):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, ROOT)
            with open(path, encoding="utf-8") as f:
                source = f.read()
            n_lines = len(source.splitlines())
            if n_lines > MAX_MODULE_LINES:
                offenders.append(f"{rel}: module of {n_lines} lines")
            for node in ast.walk(ast.parse(source, path)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    length = node.end_lineno - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        offenders.append(f"{rel}:{node.lineno}: function {node.name} of {length} lines")
    assert not offenders, (f"over {MAX_MODULE_LINES} lines a module or {MAX_FUNCTION_LINES} a function:\n  "
                           + "\n  ".join(sorted(offenders)))
