"""The import contracts of .importlinter: the pure core imports no fairseq and nothing above it,
and nothing outside cli/ imports the CLIs (dependencies point down)."""

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
