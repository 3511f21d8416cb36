import os
import signal
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER_DIR = os.path.join(ROOT, "user_dir")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# A non-interactive shell starts its background jobs (`bash .ci/run &`) with SIGINT ignored, and every
# process they start inherits that: the Ctrl-C tests would see nothing. Python's handler restored here;
# the commands the tests start then begin with the default disposition.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A tiny XLM-R-format model, generated data in three languages, and its binarized form."""
    from xtune_fairseq.prepare import build_tiny_model, preprocess
    from xtune_fairseq.core.synthetic import generate

    root = tmp_path_factory.mktemp("tiny")
    data = generate(str(root / "data"), seed=1)
    model = build_tiny_model(str(root / "model"), data["corpus"])
    bin_dir = preprocess(model, str(root / "bin"), data["train"], data["valid"], data["test"], data["translations"])
    return {"root": root, "model": model, "bin": bin_dir, "dicts": f"{data['dict_de']},{data['dict_fr']}", **data}


def fairseq_train(args, cwd=None, check=True):
    """Runs fairseq-train in a subprocess; returns (returncode, combined output)."""
    cmd = [sys.executable, "-m", "fairseq_cli.train"] + [str(a) for a in args]
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError(f"fairseq-train failed ({proc.returncode}):\n{out[-4000:]}")
    return proc.returncode, out


def train_args(tiny, save_dir, *extra, task="xtune_classification"):
    return [
        tiny["bin"], "--user-dir", USER_DIR, "--task", task, "--arch", "xlmr_xtune",
        "--pretrained-dir", tiny["model"], "--criterion", "xtune_consistency", "--optimizer", "adam",
        "--lr", "1e-3", "--batch-size", "32", "--max-epoch", "1", "--cpu", "--num-workers", "0",
        "--save-dir", save_dir, "--no-epoch-checkpoints", "--log-format", "json", "--log-interval", "1",
        "--best-checkpoint-metric", "avg_acc", "--maximize-best-checkpoint-metric", "--seed", "3",
        *[str(e) for e in extra],
    ]


@pytest.fixture(scope="session")
def spm_model(tmp_path_factory):
    """A real sentencepiece unigram model trained on generated text (no fairseq involved)."""
    import sentencepiece as spm

    from xtune_fairseq.core.synthetic import generate

    root = tmp_path_factory.mktemp("spm")
    data = generate(str(root / "data"), seed=2, n_train=200, n_eval=30)
    spm.SentencePieceTrainer.train(input=data["corpus"], model_prefix=str(root / "m"), vocab_size=300,
                                   model_type="unigram", character_coverage=1.0, minloglevel=2, num_threads=1)
    return {"model": str(root / "m.model"), **data}


def make_task(tiny, *flags, criterion=False, task="xtune_classification"):
    """The task (and optionally the criterion) as fairseq-train would build them."""
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    argv = train_args(tiny, str(tiny["root"] / "unused"), *flags, task=task)
    args = options.parse_args_and_arch(options.get_training_parser(), argv)
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    if not criterion:
        return task, cfg
    return task, cfg, task.build_criterion(cfg.criterion)
