"""Every flag of every xtune-* command (setup.py's console scripts, subcommands included) has a help line."""

import argparse
import importlib
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = re.findall(r'"(xtune-[\w-]+)=([\w.]+):main"', open(os.path.join(ROOT, "setup.py")).read())


class Parsed(Exception):
    """Raised instead of parsing: the command's parser is what the test reads."""


def command_parser(module, monkeypatch):
    seen = []

    def capture(self, *args, **kwargs):
        seen.append(self)
        raise Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(Parsed):
        importlib.import_module(module).main([])
    return seen[0]


def flags_without_help(parser, name):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, subparser in action.choices.items():
                yield from flags_without_help(subparser, f"{name} {sub}")
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            yield f"{name} {'/'.join(action.option_strings) or action.dest}"


def test_every_command_is_read():
    assert len(COMMANDS) >= 11


@pytest.mark.parametrize("command,module", COMMANDS)
def test_every_flag_has_a_help_line(command, module, monkeypatch):
    assert list(flags_without_help(command_parser(module, monkeypatch), command)) == []


@pytest.mark.parametrize("module", ["xtune_fairseq.cli.preprocess", "xtune_fairseq.cli.pipeline",
                                    "xtune_fairseq.cli.results"])
def test_the_data_and_run_commands_start_without_torch(module):
    """--help and flag errors of these commands come before torch and fairseq load (3-4 s on 2 cores):
    the library modules they import load their writers and scorers on first use."""
    code = f"import sys, {module}; print(sorted({{'torch', 'fairseq'}} & set(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr[-2000:]
