"""The project's environment is consistent: `pip check` reports only the one dependency left out on
purpose (fairseq-fixed's torchaudio, see requirements-fairseq.txt), and no torchaudio is installed for
transformers to trip over."""

import importlib.util
import subprocess
import sys

TORCHAUDIO_LINE = "fairseq-fixed 0.12.3.1 requires torchaudio, which is not installed."


def test_pip_check_reports_only_the_omitted_torchaudio():
    out = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert lines in ([TORCHAUDIO_LINE], ["No broken requirements found."]), out.stdout + out.stderr


def test_no_torchaudio_in_the_environment():
    assert importlib.util.find_spec("torchaudio") is None
