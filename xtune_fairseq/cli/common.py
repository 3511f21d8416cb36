"""What every CLI shares: user mistakes end with one clear line, not a traceback; LANG:PATH lists."""

import json
import logging
import os
import signal
import sys
import threading
import warnings
from typing import Callable, List, Optional, Tuple

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.core.files import atomic_open, check_output_file
from xtune_fairseq.core.ownership import mark_output


def run_cli(fn) -> int:
    """Runs fn; a user mistake ends with `error: ...` (exit 2), Ctrl-C or SIGTERM with `interrupted`
    (exit 130) once the `finally` blocks have removed what was half-written."""
    warnings.filterwarnings("ignore")  # fairseq's hydra / autocast deprecation chatter
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    previous = _on_sigterm(_interrupt)
    try:
        fn()
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        _on_sigterm(previous)
    return 0


def report_cli(a, measure: Callable[[], object], table: Optional[Callable[[object], str]] = None) -> int:
    """A benchmark's main: its flags' ranges checked, the report measured, written as JSON to a.json
    when given, printed as table(report) (or as JSON)."""

    def go():
        check_ranges(a)
        check_report_out(a)
        report = measure()
        write_report(a, report)
        print(table(report) if table else json.dumps(report, indent=1))

    return run_cli(go)


REPORT = "xtune-bench"  # the owner a benchmark's --json report names in its marker (ownership.mark_output)


def add_report_flags(p) -> None:
    """A benchmark's --json and --force."""
    p.add_argument("--json", help="also write the report here, as JSON")
    p.add_argument("--force", action="store_true",
                   help="replace a --json file that is not a benchmark's own unchanged previous report")


def check_report_out(a) -> None:
    """A benchmark's --json, before it measures: not a folder, not a file someone else wrote (unless --force)."""
    if a.json:
        check_output_path(a.json, "--json", (), REPORT, a.force)


def write_report(a, report) -> None:
    if a.json:
        with atomic_open(a.json) as f:
            json.dump(report, f, indent=1)
        mark_output(a.json, REPORT)


def check_parent_folder(path: str, flag: str) -> None:
    """The folders above an output path are folders (or missing, to be made), not files."""
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise InputError(f"{flag} {path}: {folder} is a file, not a folder")


def check_output_path(path: str, flag: str, inputs=(), command: str = None, force: bool = False) -> None:
    """A file a command writes after its work, checked before it: not a folder, not an input nor inside
    one, not someone else's file (files.check_output_file), no file where a folder above it should be."""

    check_parent_folder(path, flag)
    check_output_file(path, flag, inputs, command, force)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _on_sigterm(handler):
    """Installs handler for SIGTERM (the default kill), returning the previous one; only the main
    thread may, so elsewhere nothing changes."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def parse_lang_paths(spec: str, flag: str) -> List[Tuple[str, str]]:
    """'en:train-en.conll,de:dev-de.conll' -> [(en, path), (de, path)]."""
    out = []
    for part in filter(None, spec.split(",")):
        lang, sep, path = part.partition(":")
        if not sep or not lang or not path:
            raise InputError(f"{flag} {spec!r}: expected LANG:PATH[,LANG:PATH...], e.g. en:train-en.conll")
        out.append((lang, path))
    return out
