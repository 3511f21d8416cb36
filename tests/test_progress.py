"""xtune-preprocess shows progress on its long steps (issue #25, point 6): it printed nothing until it
ended (reading, encoding, fairseq-preprocess's binarizing and writing meta/ of a 40k-row file, minutes
at full size). A line on stderr once a step has run XTUNE_PROGRESS_INTERVAL seconds (default 2), then
as often, and one with the final count; the data written is the same with or without them
(core/progress.py). Its input errors come before fairseq is loaded."""

import io
import logging
import os
import subprocess
import sys
import threading
import time

import pytest

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.progress import DEFAULT_INTERVAL, Progress, interval_from_env, progress, watching


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_line_only_once_the_interval_has_passed():
    clock, out = Clock(), io.StringIO()
    step = Progress("[preprocess] train: read", total=10, interval=2.0, stream=out, clock=clock)
    for seconds in (0.5, 0.5, 0.9):  # 1.9 s: too soon
        clock.now += seconds
        step.count()
    assert out.getvalue() == ""
    clock.now += 0.1
    step.count()  # 2.0 s after the step began
    clock.now += 1.0
    step.count()  # 1 s after that line: none
    clock.now += 1.0
    step.count(5)
    assert out.getvalue().splitlines() == ["[preprocess] train: read 4/10 rows", "[preprocess] train: read 10/10 rows"]


def test_a_step_that_printed_ends_with_its_final_count():
    clock, out = Clock(), io.StringIO()
    step = Progress("[preprocess] train: read", total=3, interval=2.0, stream=out, clock=clock)
    step.count()
    step.close()  # printed nothing: a short step stays silent
    assert out.getvalue() == ""
    clock.now += 5
    step.count()
    step.count()
    step.close()
    step.close()  # the final count once
    assert out.getvalue().splitlines() == ["[preprocess] train: read 2/3 rows", "[preprocess] train: read 3/3 rows"]
    assert list(progress(iter("abc"), "[preprocess] x: y", total=3, interval=0.0)) == ["a", "b", "c"]


def test_watching_follows_a_file_another_library_writes(tmp_path):
    path, err = tmp_path / "train.bin", io.StringIO()
    path.write_bytes(b"")

    def size():
        return os.path.getsize(path) // 4  # 4 bytes an id

    def write(ids):  # a writer in another thread, as fairseq-preprocess in the caller's
        with open(path, "ab") as f:
            for _ in range(ids):
                f.write(b"\0" * 4)
                f.flush()
                time.sleep(0.002)

    sys_stderr, sys.stderr = sys.stderr, err
    try:
        with watching(size, "[preprocess] input0: binarized", 1000, "ids", interval=0.0, poll=0.05):
            writer = threading.Thread(target=write, args=(1000,))  # 2 s at least: many polls
            writer.start()
            writer.join()
    finally:
        sys.stderr = sys_stderr
    lines = err.getvalue().splitlines()
    counts = [int(line.split()[-2].split("/")[0]) for line in lines]
    assert len(lines) >= 3 and lines[-1] == "[preprocess] input0: binarized 1000/1000 ids", lines
    assert counts == sorted(counts) and 0 < counts[1] < 1000  # lines while it ran, never going back


def test_a_failing_measure_skips_a_poll(capsys):
    calls = []

    def measure():  # fails once, as a worker's file removed between listing and measuring
        calls.append(1)
        if len(calls) == 1:
            raise FileNotFoundError("train.pt1.bin")
        return len(calls)

    with watching(measure, "[preprocess] input0: binarized", 100, "ids", interval=0.0, poll=0.02):
        while len(calls) < 4:
            time.sleep(0.01)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "[preprocess] input0: binarized" in err


def test_watching_switched_off_or_failing_prints_nothing_more(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XTUNE_PROGRESS_INTERVAL", "off")
    with watching(lambda: 10, "[preprocess] input0: binarized", 10, "ids", poll=0.01):
        time.sleep(0.05)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("XTUNE_PROGRESS_INTERVAL", "0")

    def in_the_caller():  # 7 where the final count would be taken (the caller's thread), 0 in the watcher's
        return 7 if threading.current_thread() is threading.main_thread() else 0

    with pytest.raises(RuntimeError):
        with watching(in_the_caller, "[preprocess] input1: binarized", 10, "ids", poll=0.01):
            time.sleep(0.05)
            raise RuntimeError("fairseq failed")
    assert "7/10" not in capsys.readouterr().err  # no final count after a failure
    assert not [t for t in threading.enumerate() if t.name.startswith("progress ")]  # the thread ended


def test_without_total_and_switched_off(monkeypatch):
    clock, out = Clock(), io.StringIO()
    step = Progress("[preprocess] translations: wrote", interval=0.0, stream=out, clock=clock)
    step.count(3)
    assert out.getvalue() == "[preprocess] translations: wrote 3 rows\n"
    monkeypatch.setenv("XTUNE_PROGRESS_INTERVAL", "off")
    off = Progress("[preprocess] train: read", stream=out, clock=clock)
    clock.now += 100
    off.count()
    assert out.getvalue() == "[preprocess] translations: wrote 3 rows\n"


@pytest.mark.parametrize("text,expected", [("", DEFAULT_INTERVAL), ("0", 0.0), ("7.5", 7.5), ("off", None),
                                           ("OFF", None)])
def test_interval_setting(monkeypatch, text, expected):
    monkeypatch.setenv("XTUNE_PROGRESS_INTERVAL", text)
    assert interval_from_env() == expected


@pytest.mark.parametrize("text", ["-1", "soon", "nan"])
def test_bad_interval_is_one_line(monkeypatch, text):
    monkeypatch.setenv("XTUNE_PROGRESS_INTERVAL", text)
    with pytest.raises(InputError) as err:
        interval_from_env()
    assert str(err.value) == (f"XTUNE_PROGRESS_INTERVAL={text}: expected seconds between progress lines "
                              "(a number >= 0) or 'off'")


def big_tsv(tiny, path, rows):
    """The tiny training file repeated to `rows` rows, with new ids."""
    lines = open(tiny["train"], encoding="utf-8").read().splitlines()
    head, body = lines[0], lines[1:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + "\n")
        for i in range(rows):
            f.write("\t".join([f"big-{i}"] + body[i % len(body)].split("\t")[1:]) + "\n")
    return str(path)


def preprocess_cmd(tiny, train, out):
    return [sys.executable, "-m", "xtune_fairseq.cli.preprocess", "--model-dir", tiny["model"], "--train", train,
            "--valid", tiny["valid"], "--out", str(out)]


def tree(root):
    """{relative path: bytes}; fairseq-preprocess's preprocess.log only by name (it names the temporary folder)."""
    def data(path):
        return b"" if os.path.basename(path) == "preprocess.log" else open(path, "rb").read()

    return {os.path.relpath(os.path.join(d, n), root): data(os.path.join(d, n)) for d, _, names in os.walk(root)
            for n in names}


def test_progress_lines_come_while_it_runs_and_change_no_file(tiny, tmp_path):
    train = big_tsv(tiny, tmp_path / "train.tsv", 5000)
    env = dict(os.environ, OMP_NUM_THREADS="1", XTUNE_PROGRESS_INTERVAL="0")  # every row: no timing in the test
    proc = subprocess.Popen(preprocess_cmd(tiny, train, tmp_path / "a"), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = proc.stderr.readline()
    running = proc.poll() is None  # the line came before the end: fairseq's binarization is still ahead
    rest, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert first == "[preprocess] train: read 1 rows\n" and running
    lines = (first + err).splitlines()
    for step in ("train: read 5000 rows", "train: encoded input0 5000/5000 rows", "train: wrote 5000/5000 rows",
                 "valid: read", "valid: wrote"):
        assert any(line.startswith(f"[preprocess] {step}") for line in lines), step
    assert rest == f"{tmp_path / 'a'}\n"  # stdout as before: the data directory
    # fairseq-preprocess's binarizing, followed from outside: ends with every id fairseq wrote
    from fairseq.data import data_utils
    ids = 0
    for split in ("train", "valid"):
        dataset = data_utils.load_indexed_dataset(str(tmp_path / "a" / "input0" / split), None, "mmap")
        ids += int(dataset.sizes.sum())  # read while the dataset (its memory map) lives
        del dataset
    binarized = [i for i, line in enumerate(lines) if line.startswith("[preprocess] input0: binarized")]
    dictionary = lines.index(next(line for line in lines if "INFO fairseq_cli.preprocess: [None] Dictionary: " in line))
    assert lines[binarized[-1]] == f"[preprocess] input0: binarized {ids}/{ids} ids" and binarized[-1] > dictionary
    # fairseq's lines (shown by the command) go to each folder's own preprocess.log only
    assert "valid.input0" in open(tmp_path / "a" / "input0" / "preprocess.log").read()
    assert "input1" not in open(tmp_path / "a" / "input0" / "preprocess.log").read()
    assert "train.label" in open(tmp_path / "a" / "label" / "preprocess.log").read()

    env["XTUNE_PROGRESS_INTERVAL"] = "off"
    quiet = subprocess.run(preprocess_cmd(tiny, train, tmp_path / "b"), env=env, capture_output=True, text=True)
    assert quiet.returncode == 0 and "[preprocess]" not in quiet.stderr
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert a.keys() == b.keys() and [k for k in a if a[k] != b[k]] == []


def test_small_data_prints_no_progress(tiny, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("XTUNE_PROGRESS_INTERVAL", None)  # the default, 2 s: the tiny data takes less in every step
    proc = subprocess.run(preprocess_cmd(tiny, tiny["train"], tmp_path / "d"), env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and "[preprocess]" not in proc.stderr


def test_input_errors_come_before_fairseq_loads(tiny, tmp_path):
    """A wrong flag or file is reported at once: the text writers do not import fairseq (3-4 s)."""
    code = ("import sys; from xtune_fairseq.cli.preprocess import main; "
            f"rc = main(['--model-dir', {tiny['model']!r}, '--train', {str(tmp_path / 'missing.tsv')!r}, "
            f"'--out', {str(tmp_path / 'o')!r}]); print(rc, 'fairseq' in sys.modules, 'torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.split() == ["2", "False", "False"], proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "missing.tsv" in proc.stderr


def test_the_library_leaves_logging_as_the_caller_set_it(tiny, tmp_path):
    """preprocess() as a library call: fairseq-preprocess's logger keeps the caller's level, and the
    handler it adds per call (DESTDIR/preprocess.log) is gone afterwards."""
    code = ("import logging; from xtune_fairseq.prepare import preprocess; "
            "log = logging.getLogger('fairseq_cli.preprocess'); log.setLevel(logging.WARNING); "
            f"preprocess({tiny['model']!r}, {str(tmp_path / 'd')!r}, {tiny['train']!r}); "
            "print(log.level, len(log.handlers))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == [str(logging.WARNING), "0"] and "Namespace" not in proc.stderr
