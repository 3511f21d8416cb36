"""The pipeline's record of what a stage was trained with: a finished stage is reused (skipped), and
an unfinished one resumed from checkpoint_last.pt, only when this run would train it the same way.

stageK/fingerprint.json, written when the stage starts from scratch:
  argv     the stage's fairseq-train arguments after the data path, less those that change where or how
           it reports and not what it trains (NO_EFFECT); paths made absolute, or relative to --out
  data     {file: sha256} of the data directory's files training reads (data_digest)
  teacher  stage 2: the digest of stage 1's record, so a stage 1 trained anew since makes stage 2 stale
A stage folder holding DONE or checkpoint_last.pt with another record, or none (written before these
records existed), is refused in one line before anything is trained or scored."""

import hashlib
import json
import os
import shlex
from typing import Dict, List, Optional, Sequence

from xtune_fairseq.core.data.prepared import INFO, read_data_info
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.ownership import file_sha256
from xtune_fairseq.pipeline.schedule import flag_value

FINGERPRINT = "fingerprint.json"
FORMAT = 1

# fairseq-train flags that do not change what a stage trains, and whether each takes a value
NO_EFFECT = {
    "--user-dir": True,  # where this package's code is
    "--save-dir": True,  # the stage folder itself: a run folder moved or named another way is the same run
    "--log-format": True, "--log-interval": True, "--log-file": True, "--no-progress-bar": False,  # logging
    "--wandb-project": True, "--tensorboard-logdir": True,  # logging
    "--num-workers": True,  # loader processes draw the very batches of the main one (tests/test_num_workers.py)
    "--binarized-views": True,  # views drawn ahead equal the online ones (tests/test_pipeline_runtime.py)
}
PATHS = ("--pretrained-dir", "--code-switch-dicts")  # compared as absolute paths (comma-separated lists)
DERIVED = ("--total-num-update", "--warmup-updates")  # follow from the data and the epochs
SHOWN = 4  # differing flags named in a refusal


def train_argv(cmd: Sequence[str], out: str) -> List[str]:
    """The arguments of a stage's command (python -m TRAINER DATA ARGS...) that decide what it trains."""
    args, keep, i = list(cmd[4:]), [], 0
    while i < len(args):
        token = args[i]
        name, eq, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        i += 1
        value = None
        if eq:
            value = inline
        elif name in NO_EFFECT and NO_EFFECT[name] or name in PATHS or name == "--teacher-path":
            value, i = (args[i] if i < len(args) else None), i + 1
        if name in NO_EFFECT:
            continue
        if name in PATHS and value is not None:
            value = ",".join(os.path.abspath(p) for p in value.split(","))
        elif name == "--teacher-path" and value is not None:
            value = os.path.relpath(os.path.abspath(value), os.path.abspath(out))
        keep += [name] if value is None else [name, value]
    return keep


def data_digest(data: str, argv: Sequence[str]) -> Dict[str, str]:
    """{path in the data directory: sha256} of what training reads: every file but views/ (drawn from
    the data by xtune-pipeline itself), preprocessing logs, hidden files and the files of splits it does
    not read (test: a finished run may be scored on a new test split); xtune.json without model_dir
    (where the data was made from), splits and files (the list of what xtune-preprocess wrote)."""
    info = read_data_info(data, required=())
    read = {flag_value(argv, "--train-subset") or "train", *(flag_value(argv, "--valid-subset") or "valid").split(",")}
    unread = set(info.get("splits", [])) - read
    out = {}
    for root, dirs, files in os.walk(data):
        rel_root = os.path.relpath(root, data)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (rel_root == "." and d == "views"))
        for name in sorted(files):
            if name.startswith(".") or name.endswith(".log") or name.split(".")[0] in unread:
                continue
            rel = os.path.normpath(os.path.join(rel_root, name)).replace(os.sep, "/")
            if rel == INFO:
                kept = {k: v for k, v in info.items() if k not in ("model_dir", "splits", "files")}
                out[rel] = _sha256(json.dumps(kept, sort_keys=True).encode())
            else:
                out[rel] = file_sha256(os.path.join(root, name))
    return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_digest(record: Optional[dict]) -> Optional[str]:
    """The digest of what a record compares (not where the data was), as a later stage records it."""
    if record is None:
        return None
    return _sha256(json.dumps([record.get(k) for k in ("argv", "data", "teacher")], sort_keys=True).encode())


def read_record(save_dir: str) -> Optional[dict]:
    path = os.path.join(save_dir, FINGERPRINT)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            record = json.load(f)
        if record.get("format") != FORMAT or not isinstance(record.get("argv"), list):
            raise ValueError(f"format {record.get('format')!r}")
    except (ValueError, AttributeError) as e:
        raise InputError(f"{path}: not a record written by xtune-pipeline ({e})") from None
    return record


def stage_record(a, stage: int, cmd: Sequence[str]) -> dict:
    """What this run would train stage `stage` with."""
    argv = train_argv(cmd, a.out)
    record = {"format": FORMAT, "stage": stage, "argv": argv, "data_path": os.path.abspath(a.data),
              "data": data_digest(a.data, argv)}
    if stage > 1:
        record["teacher"] = record_digest(read_record(os.path.join(a.out, "stage1")))
    return record


def reuse_or_record(a, stage: int, cmd: List[str]) -> List[str]:
    """The stage's command, once its folder is known to hold nothing trained otherwise: a finished stage
    (DONE) or one to resume (checkpoint_last.pt) with another record, or none, is refused; a fresh start
    is recorded. (--stages 2 alone does not hold stage 1 to this run's flags: the demo's R2-only row
    takes another run's stage 1 as its teacher on purpose; stage 2's record names the one it had.)"""
    save_dir = os.path.join(a.out, f"stage{stage}")
    record = check_reuse(a, stage, save_dir, cmd)
    if not any(os.path.isfile(os.path.join(save_dir, f)) for f in ("DONE", "checkpoint_last.pt")):
        os.makedirs(save_dir, exist_ok=True)
        write_record(save_dir, record)
    return cmd


def check_reuse(a, stage: int, save_dir: str, cmd: Sequence[str]) -> dict:
    """This run's record of the stage; an InputError if the folder holds a finished stage (DONE) or one
    to resume (checkpoint_last.pt) that was trained with other flags or data, or that has no record."""
    record = stage_record(a, stage, cmd)
    finished = os.path.isfile(os.path.join(save_dir, "DONE"))
    if not finished and not os.path.isfile(os.path.join(save_dir, "checkpoint_last.pt")):
        return record  # a fresh start: nothing of an earlier run is used
    state = "was trained" if finished else "(unfinished: it would resume from checkpoint_last.pt) was started"
    old = read_record(save_dir)
    if old is None:
        problem = (f"stage{stage} predates the record of its flags and data ({FINGERPRINT}), so it cannot be "
                   "checked against this run")
    else:
        problem = "; also ".join(_differences(a, old, record))
        if not problem:
            return record
        problem = f"stage{stage} {state} {problem}"
    raise InputError(f"--out {a.out}: {problem}; pass another --out, or remove {_stale(a, stage)} to train anew")


def write_record(save_dir: str, record: dict) -> None:
    path = os.path.join(save_dir, FINGERPRINT)
    with open(path + ".tmp", "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)


def _stale(a, stage: int) -> str:
    """This stage's folder and the later ones (trained against it)."""
    folders = [os.path.join(a.out, f"stage{s}") for s in (1, 2) if s >= stage]
    return " and ".join(f for i, f in enumerate(folders) if i == 0 or os.path.isdir(f))


def _differences(a, old: dict, new: dict) -> List[str]:
    out = []
    if old.get("data") != new["data"]:
        before, now = old.get("data") or {}, new["data"]
        files = sorted(f for f in set(before) | set(now) if before.get(f) != now.get(f))
        named = ", ".join(f + ("" if f in before else " (new)") + ("" if f in now else " (gone)")
                          for f in files[:SHOWN])
        named += f" and {len(files) - SHOWN} more" if len(files) > SHOWN else ""
        where = "" if old.get("data_path") == new["data_path"] else f" ({old.get('data_path')})"
        out.append(f"on other data{where} than --data {a.data} holds now ({named} differ)")
    flags = _flag_differences(old["argv"], new["argv"])
    if flags:
        if out or any(f not in DERIVED for f, _, _ in flags):
            flags = [f for f in flags if f[0] not in DERIVED] or flags
        shown = flags[:SHOWN]
        more = f" (and {len(flags) - SHOWN} more flags)" if len(flags) > SHOWN else ""
        out.append(f"with {' '.join(b for _, b, _ in shown)}, this run has {' '.join(n for _, _, n in shown)}{more}")
    if old.get("teacher") != new.get("teacher") and not out:
        out.append("against another stage-1 model (stage1 was trained anew since)")
    return out


def _flag_differences(old: Sequence[str], new: Sequence[str]):
    """[(flag, as it was, as it is now)] in the order of the new command."""
    before, now = _by_flag(old), _by_flag(new)
    names = list(now) + [f for f in before if f not in now]
    return [(f, _show(f, before.get(f)), _show(f, now.get(f))) for f in names if before.get(f) != now.get(f)]


def _by_flag(argv: Sequence[str]) -> Dict[str, List[List[str]]]:
    """{flag: [its values at each occurrence]} (the tokens up to the next flag)."""
    out: Dict[str, List[List[str]]] = {}
    current = None
    for token in argv:
        if token.startswith("--"):
            current = out.setdefault(token, [])
            current.append([])
        elif current is not None:
            current[-1].append(token)
    return out


def _show(flag: str, occurrences) -> str:
    if occurrences is None:
        return f"no {flag}"
    return " ".join(shlex.join([flag, *values]) for values in occurrences)
