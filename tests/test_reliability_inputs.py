"""Issue #26, points 4 and 5: user files that are not what the commands read (bytes that are not UTF-8,
a missing file, JSON cut short or without its entries, a header row XTREME's files do not have) and
flags that silently gave a wrong result (--samples 0, two --run of one name) end in ONE line
`error: PATH[:LINE]: ...` naming the file and what was expected, exit 2, no traceback.

Each case writes the bad file in tmp_path and runs the command the way the user runs it (its main(),
in this process; xtune-retrieval as a subprocess), or, where the command is a training run, the
library function it calls, through the same run_cli that prints the CLIs' errors."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from xtune_fairseq.cli.common import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
XTREME = os.path.join(ROOT, "tests", "fixtures", "xtreme", "download")
HEADER = b"id\tlang\tsentence\tlabel\n"


def write(tmp_path, name, data: bytes) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def library(fn, *args, **kwargs):
    """A library function's outcome as its CLI reports it (exit status; the error line on stderr)."""
    return lambda: run_cli(lambda: fn(*args, **kwargs))


def result(per_language=None, **extra):
    entry = {"per_language": per_language or {"en": 80.0, "de": 70.0}, "average": 75.0, "transfer_gap": 10.0,
             "source_language": "en", **extra}
    return entry


# --- (a) bytes that are not UTF-8, a missing file ------------------------------------------------------------

def train_tsv(tmp_path, tiny):
    from xtune_fairseq.cli.preprocess import main

    path = write(tmp_path, "train.tsv", HEADER + b"1\ten\tgood film\tpos\n2\ten\tbad \xe9l\tneg\n")
    offset = len(HEADER) + len(b"1\ten\tgood film\tpos\n") + len(b"2\ten\tbad ")
    return (lambda: main(["--model-dir", tiny["model"], "--train", path, "--dest", str(tmp_path / "bin")]),
            f"{path}:3: not UTF-8 text (0xe9 at byte {offset}: invalid continuation byte); expected a UTF-8 TSV "
            "with a header line such as 'id<TAB>lang<TAB>sentence<TAB>label'")


def translations_tsv(tmp_path, tiny):
    from xtune_fairseq.cli.preprocess import main

    with open(tiny["translations"], "rb") as f:
        lines = f.readlines()
    bad = lines[2].rstrip(b"\n") + b"\xff\n"  # the third line's sentence ends in a byte that is not UTF-8
    path = write(tmp_path, "translations.tsv", b"".join(lines[:2] + [bad] + lines[3:]))
    offset = len(lines[0]) + len(lines[1]) + len(lines[2]) - 1
    return (lambda: main(["--model-dir", tiny["model"], "--train", tiny["train"], "--translations", path,
                          "--dest", str(tmp_path / "bin")]),
            f"{path}:3: not UTF-8 text (0xff at byte {offset}: invalid start byte); expected a UTF-8 TSV")


def code_switch_dictionary(tmp_path, tiny):
    from xtune_fairseq.core.augment.code_switch import load_muse_dictionaries

    # MUSE/en-de.txt as fairseq-train --code-switch-dicts reads it (the task's _switcher)
    path = write(tmp_path, "MUSE/en-de.txt", b"cat katze\ngood gut\nbig gro\xdf\n")
    return (library(load_muse_dictionaries, [path]),
            f"{path}:3: not UTF-8 text (0xdf at byte 26: invalid continuation byte); expected a UTF-8 MUSE dictionary, "
            "'source<TAB>target' or 'source target' lines")


def conll(tmp_path, tiny):
    from xtune_fairseq.cli.preprocess import main

    path = write(tmp_path, "train-en.conll", b"The\tDET\ncat\tNOUN\n\nZ\xfcrich\tPROPN\n")
    return (lambda: main(["--model-dir", tiny["model"], "--kind", "tagging", "--train", f"en:{path}",
                          "--dest", str(tmp_path / "bin")]),
            f"{path}:4: not UTF-8 text (0xfc at byte 19: invalid start byte); expected UTF-8 text: 'word<TAB>tag' "
            "lines or 'word/TAG word/TAG ...' lines")


def squad_json(tmp_path, tiny):
    from xtune_fairseq.cli.preprocess import main

    text = b'{"data": [{"title": "x", "paragraphs": [\n {"context": "Caf\xe9 au lait.", "qas": []}]}]}\n'
    path = write(tmp_path, "train-en.json", text)
    return (lambda: main(["--model-dir", tiny["model"], "--kind", "qa", "--train", f"en:{path}",
                          "--dest", str(tmp_path / "bin")]),
            f"{path}:2: not UTF-8 text (0xe9 at byte 58: invalid continuation byte); expected UTF-8 SQuAD v1.1 JSON")


def retrieval_parallel(tmp_path, tiny):
    path = write(tmp_path, "en-de.tsv", b"The cat.\tDie Katze.\nThe dog.\tDer Hund \x80.\n")
    cmd = [sys.executable, "-m", "xtune_fairseq.cli.retrieval", "--model", "e5=nowhere", "--parallel", path]

    def run():  # the command as the user runs it: a process of its own
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(tmp_path),
                              env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT))
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        return proc.returncode

    return (run, f"{path}:2: not UTF-8 text (0x80 at byte 38: invalid start byte); expected UTF-8 text, "
                 "'source<TAB>target' lines")


def trim_corpus(tmp_path, tiny):
    from xtune_fairseq.cli.convert import main

    path = write(tmp_path, "corpus.txt", b"good film\nna\xefve\n")
    return (lambda: main(["trim", "--model-dir", tiny["model"], "--corpus", path, "--out", str(tmp_path / "out")]),
            f"{path}:2: not UTF-8 text (0xef at byte 12: invalid continuation byte); expected UTF-8 text (--corpus")


def trim_corpus_missing(tmp_path, tiny):
    from xtune_fairseq.cli.convert import main

    good = write(tmp_path, "corpus.txt", b"good film\n")
    path = str(tmp_path / "corpus-de.txt")
    return (lambda: main(["trim", "--model-dir", tiny["model"], "--corpus", good, path,
                          "--out", str(tmp_path / "out")]),
            f"--corpus {path}: file not found; expected a UTF-8 text file")


# --- (b) JSON cut short or without its entries ---------------------------------------------------------------

def data_dir(tmp_path, tiny):
    dest = tmp_path / "bin"
    shutil.copytree(tiny["bin"], dest)
    return dest


def views(dest):
    from xtune_fairseq.cli.preprocess import main

    # xtune-preprocess views sets up the training task as fairseq-train does: it reads xtune.json
    return lambda: main(["views", str(dest), "--name", "v", "--epochs", "1", "--data-augmentation", "ss"])


def xtune_json_without_labels(tmp_path, tiny):
    dest = data_dir(tmp_path, tiny)
    info = json.loads((dest / "xtune.json").read_text())
    del info["labels"]
    (dest / "xtune.json").write_text(json.dumps(info))
    return views(dest), (f"{dest / 'xtune.json'}: no 'labels' entry; expected the xtune.json that xtune-preprocess "
                         "writes (rerun it)")


def xtune_json_not_json(tmp_path, tiny):
    dest = data_dir(tmp_path, tiny)
    text = (dest / "xtune.json").read_text()
    (dest / "xtune.json").write_text(text[: len(text) // 2])  # cut short
    with pytest.raises(json.JSONDecodeError) as where:
        json.loads(text[: len(text) // 2])
    e = where.value
    return views(dest), (f"{dest / 'xtune.json'}:{e.lineno}:{e.colno}: not JSON ({e.msg}); expected the xtune.json "
                         "that xtune-preprocess writes (rerun it)")


def meta_jsonl_cut_mid_line(tmp_path, tiny):
    from xtune_fairseq.core.data.prepared import meta_path, read_examples

    dest = data_dir(tmp_path, tiny)
    path = meta_path(str(dest), "test")
    with open(path, "rb") as f:
        lines = f.readlines()
    with open(path, "wb") as f:
        f.write(b"".join(lines[:-1]) + lines[-1][:20])
    # what xtune-evaluate and the task's load_dataset("test") read
    return (library(read_examples, path),
            f"{path}:{len(lines)}: last line cut short, no newline at its end (")


def results_not_json(tmp_path, tiny):
    from xtune_fairseq.cli.results import main

    path = write(tmp_path, "run/results.json", b'{"baseline": {"per_language": {"en": 80.0,\n')
    return (lambda: main(["--run", f"baseline={path}", "--out", str(tmp_path / "table")]),
            f"{path}:2:1: not JSON (Expecting property name enclosed in double quotes); expected xtune-evaluate's "
            "results JSON")


def results_without_per_language(tmp_path, tiny):
    from xtune_fairseq.cli.results import main

    entry = result()
    del entry["per_language"]
    path = write(tmp_path, "run/results.json", json.dumps({"baseline": entry}).encode())
    return (lambda: main(["--run", f"baseline={path}", "--out", str(tmp_path / "table")]),
            f"{path}: entry 'baseline' has no 'per_language' scores; expected xtune-evaluate's results JSON")


def results_without_source_language(tmp_path, tiny):
    from xtune_fairseq.cli.results import main

    entry = result()
    del entry["source_language"]
    path = write(tmp_path, "run/results.json", json.dumps({"baseline": entry}).encode())
    return (lambda: main(["--run", f"baseline={path}", "--out", str(tmp_path / "table")]),
            f"{path}: entry 'baseline' lacks 'source_language'; expected xtune-evaluate's results JSON")


# --- (c) silent wrong results --------------------------------------------------------------------------------

def xtreme_header(task):
    def case(tmp_path, tiny):
        from xtune_fairseq.cli.preprocess import main

        root = tmp_path / "download"
        shutil.copytree(os.path.join(XTREME, task), root / task)
        train = root / task / "train-en.tsv"
        train.write_bytes(b"sentence1\tsentence2\tlabel\n" + train.read_bytes())
        return (lambda: main(["--model-dir", tiny["model"], "--xtreme", task, str(root), "--dest",
                              str(tmp_path / "bin")]),
                f"{train}:1: a header row ['sentence1', 'sentence2', 'label'] is not expected ('label' is not one of "
                "the task's labels): XTREME's files have none; expected 'sentence1<TAB>sentence2<TAB>label' rows "
                "from the first line on")
    return case


def samples(n):
    def case(tmp_path, tiny):
        from xtune_fairseq.cli.results import main

        path = write(tmp_path, "run/results.json", json.dumps({"a": result(), "b": result()}).encode())
        return (lambda: main(["--run", f"a={path}", "--run", f"b={path}", "--out", str(tmp_path / "table"),
                              "--compare", "a", "--samples", str(n)]),
                f"--samples {n}: expected an integer >= 1 (the randomization samples of --compare)")
    return case


def duplicate_run(tmp_path, tiny):
    from xtune_fairseq.cli.results import main

    first = write(tmp_path, "base/results.json", json.dumps({"baseline": result()}).encode())
    second = write(tmp_path, "xtune/results.json", json.dumps({"xtune": result()}).encode())
    return (lambda: main(["--run", f"baseline={first}", "--run", f"baseline={second}:xtune",
                          "--out", str(tmp_path / "table")]),
            f"--run 'baseline={second}:xtune': a second run named 'baseline'; expected one --run per name")


CASES = {
    "train-tsv-not-utf8": (train_tsv, True),
    "translations-not-utf8": (translations_tsv, True),
    "code-switch-dictionary-not-utf8": (code_switch_dictionary, False),
    "conll-not-utf8": (conll, True),
    "squad-json-not-utf8": (squad_json, True),
    "retrieval-parallel-not-utf8": (retrieval_parallel, False),
    "trim-corpus-not-utf8": (trim_corpus, True),
    "trim-corpus-missing": (trim_corpus_missing, True),
    "xtune-json-without-labels": (xtune_json_without_labels, True),
    "xtune-json-not-json": (xtune_json_not_json, True),
    "test-jsonl-cut-mid-line": (meta_jsonl_cut_mid_line, True),
    "results-json-not-json": (results_not_json, False),
    "results-json-without-per-language": (results_without_per_language, False),
    "results-json-without-source-language": (results_without_source_language, False),
    "xnli-train-with-header": (xtreme_header("xnli"), True),
    "pawsx-train-with-header": (xtreme_header("pawsx"), True),
    "compare-samples-0": (samples(0), False),
    "compare-samples-negative": (samples(-5), False),
    "duplicate-run-name": (duplicate_run, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_ends_in_one_error_line_naming_the_file(case, tmp_path, request, capfd):
    make, needs_model = CASES[case]
    run, message = make(tmp_path, request.getfixturevalue("tiny") if needs_model else None)
    before = tree(tmp_path)
    capfd.readouterr()
    code = run()
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert lines[0].startswith("error: " + message), f"\n{lines[0]}\n{'error: ' + message}"
    assert tree(tmp_path) == before  # refused before anything was written, or what was half-written removed


def tree(folder):
    return sorted(os.path.relpath(os.path.join(d, n), folder)
                  for d, dirs, files in os.walk(folder) for n in dirs + files)
