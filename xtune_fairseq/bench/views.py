"""Step time of training on binarized views (`--binarized-views`) against drawing views online.

    python -m xtune_fairseq.bench.views --data DATA --model-dir MODEL [--epochs 2 --rounds 3
        --batch-size 32] -- [the run's view flags, default the xTune stage-2 code-switch recipe]

Writes the views of --epochs epochs into DATA/views/bench (xtune-preprocess views), builds the
same model twice (online, binarized) and runs their training epochs interleaved, round after
round, through the task's own batch iterator (num_workers 0, as fairseq-train by default: data
in front of the update). Reports per configuration the median seconds of a batch's data (rows
drawn or read, collated), of its update (forward, backward, optimizer step) and of the whole step,
the binarized/online ratio, and the disk cost of the views per epoch and per row. Both
configurations must log the same losses (checked), so the timing compares equal work.
"""

import argparse
import json
import statistics
import time

from xtune_fairseq.cli.common import add_report_flags, report_cli
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.prepare import write_binarized_views

DEFAULT_FLAGS = ["--data-augmentation", "cs", "--r1-augmentation", "cs", "--r1-lambda", "5"]


def _build(a, flags):
    import torch  # late: torch: start-up time
    from fairseq import options, tasks  # late: fairseq: start-up time (about 3 s)
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf  # late: fairseq: start-up time (about 3 s)

    from xtune_fairseq.fairseq_wiring.install import install  # late: fairseq: start-up time

    install()  # our classes registered, fairseq's checkpoint reader checked (as --user-dir user_dir)

    argv = [a.data, "--task", "xtune_classification", "--arch", "xlmr_xtune", "--pretrained-dir", a.model_dir,
            "--criterion", "xtune_consistency", "--cpu", "--seed", "1", *flags]
    cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), argv))
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    torch.manual_seed(1)
    model = task.build_model(cfg.model).train()
    return {"task": task, "model": model, "crit": task.build_criterion(cfg.criterion), "losses": [],
            "opt": torch.optim.AdamW(model.parameters(), lr=1e-5), "data": [], "update": []}


def _epoch(r, epoch, batch_size):
    """One training epoch of r, each batch's data and update timed apart."""
    from fairseq import utils  # late: fairseq: start-up time (about 3 s)

    task = r["task"]
    itr = task.get_batch_iterator(task.dataset("train"), max_sentences=batch_size, seed=1, num_workers=0,
                                  epoch=epoch, disable_iterator_cache=True).next_epoch_itr(shuffle=True)
    while True:
        start = time.perf_counter()
        sample = next(itr, None)
        if sample is None:
            return
        loaded = time.perf_counter()
        with utils.set_torch_seed(1 + len(r["losses"])):  # dropout seeded per update, as fairseq's trainer
            loss, sample_size, _ = r["crit"](r["model"], sample)
        (loss / sample_size).backward()
        r["opt"].step()
        r["opt"].zero_grad(set_to_none=True)
        r["data"].append(loaded - start)
        r["update"].append(time.perf_counter() - loaded)
        r["losses"].append(float(loss))


def bench(a, flags):
    folder = write_binarized_views(a.data, "bench", a.epochs, flags + ["--seed", "1"])
    runs = {"online": _build(a, flags), "binarized": _build(a, flags + ["--binarized-views", "bench"])}
    for _ in range(a.rounds):  # interleaved: machine noise hits both alike
        for epoch in range(1, a.epochs + 1):
            for r in runs.values():
                _epoch(r, epoch, a.batch_size)
    if runs["online"]["losses"] != runs["binarized"]["losses"]:
        raise AssertionError("online and binarized views gave different losses: the timing would compare unequal work")
    with open(f"{folder}/views.json") as f:
        info = json.load(f)
    rows = {"augmented": info["rows"] - info["original_rows"], "partner": info["rows"]}  # rows a role stores
    report = {"flags": flags, "batch_size": a.batch_size, "epochs": a.epochs, "rounds": a.rounds,
              "steps_per_config": len(runs["online"]["data"]), "configs": {}, "disk_bytes_per_epoch": info["bytes"],
              "disk_bytes_per_row_per_epoch": {r: b / rows[r] for r, b in info["bytes"].items() if r in rows}}
    for name, r in runs.items():
        steps = [d + u for d, u in zip(r["data"], r["update"])]
        report["configs"][name] = {k: statistics.median(v) for k, v in
                                   (("data_s", r["data"]), ("update_s", r["update"]), ("step_s", steps))}
    c = report["configs"]
    report["binarized_over_online"] = {k: c["binarized"][k] / c["online"][k] for k in ("data_s", "step_s")}
    return report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="classification data written by xtune-preprocess")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    add_report_flags(p)
    a, flags = p.parse_known_args(argv)
    flags = [f for f in flags if f != "--"] or DEFAULT_FLAGS

    def measure():
        if "--binarized-views" in flags:
            raise InputError("--binarized-views: the benchmark sets it itself")
        return bench(a, flags)

    return report_cli(a, measure)


if __name__ == "__main__":
    raise SystemExit(main())
