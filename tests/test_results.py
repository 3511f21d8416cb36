"""Result tables: the numbers in the markdown and CSV are the mean and std of the JSON runs."""

import csv
import json
import statistics

from xtune_fairseq.evaluation import load_runs, write_tables
from xtune_fairseq.core.metrics.metrics import markdown_table, per_language_accuracy, summarize


def fake_result(en, de, fr):
    return summarize({"en": en, "de": de, "fr": fr})


def test_per_language_accuracy_and_gap():
    acc = per_language_accuracy(["en", "en", "de", "de", "de"], [1, 0, 1, 1, 0], [1, 1, 1, 1, 1])
    assert acc == {"de": 200 / 3, "en": 50.0}
    s = summarize(acc)
    assert abs(s["transfer_gap"] - (50.0 - 200 / 3)) < 1e-9 and abs(s["average"] - (50 + 200 / 3) / 2) < 1e-9


def test_tables_match_the_json_they_came_from(tmp_path):
    seeds = {1: (80.0, 70.0, 72.0), 2: (82.0, 74.0, 71.0), 3: (81.0, 71.0, 76.0)}
    for seed, (en, de, fr) in seeds.items():
        (tmp_path / f"r{seed}.json").write_text(json.dumps({
            "baseline": fake_result(en, de, fr), "xtune": fake_result(en + 1, de + 3, fr + 2)}))
    runs = load_runs([f"baseline={tmp_path}/r*.json", f"full={tmp_path}/r*.json:xtune"])
    assert len(runs["baseline"]) == 3 and len(runs["full"]) == 3
    stem = str(tmp_path / "out")
    table, gap = write_tables(runs, stem)
    de = [v[1] for v in seeds.values()]
    mean, std = statistics.fmean(de), statistics.stdev(de)
    assert f"{mean:.1f} ± {std:.1f}" in table
    rows = {r["run"]: r for r in csv.DictReader(open(stem + ".csv"))}
    assert abs(float(rows["baseline"]["de"]) - mean) < 1e-9 and abs(float(rows["baseline"]["de_std"]) - std) < 1e-9
    gaps = [en - (de + fr) / 2 for en, de, fr in seeds.values()]
    assert f"{statistics.fmean(gaps):.1f} ± {statistics.stdev(gaps):.1f}" in open(stem + "-gap.md").read()
    import os

    assert os.path.getsize(stem + ".png") > 5000


def test_tables_without_the_source_language_have_no_gap(tmp_path):
    # e.g. XTREME's udpos test split without English: the gap is undefined, the tables still come out
    for seed in (1, 2):
        (tmp_path / f"r{seed}.json").write_text(json.dumps({"baseline": summarize({"de": 70.0 + seed, "fr": 60.0})}))
    stem = str(tmp_path / "out")
    table, gap = write_tables(load_runs([f"baseline={tmp_path}/r*.json"]), stem)
    assert "| baseline | 71.5 ± 0.7 | 60.0 ± 0.0 | 65.8 ± 0.4 | - |" in table
    assert "| baseline | 2 | - |" in gap


def test_markdown_table_single_run():
    md = markdown_table({"x": fake_result(90.0, 80.0, 70.0)})
    assert "| x | 80.0 | 90.0 | 70.0 | 80.0 | 15.0 |" in md


def test_tensorboard_carries_r1_and_r2(tiny, tmp_path):
    """fairseq's --tensorboard-logdir (tensorboardX here) records r1_loss and r2_loss."""
    import glob
    import struct

    from tensorboardX.proto import event_pb2

    from conftest import fairseq_train, train_args

    logdir = tmp_path / "tb"
    fairseq_train(train_args(tiny, tmp_path / "ck", "--r1-augmentation", "cs", "--code-switch-dicts", tiny["dicts"],
                             "--max-update", "3", "--tensorboard-logdir", logdir, "--disable-validation"))
    tags = set()
    for path in glob.glob(str(logdir / "**" / "events.out.tfevents.*"), recursive=True):
        data = open(path, "rb").read()
        pos = 0
        while pos < len(data):  # TFRecord: length, crc, payload, crc
            (n,) = struct.unpack_from("<Q", data, pos)
            event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + n])
            tags.update(v.tag for v in event.summary.value)
            pos += 12 + n + 4
    assert {"r1_loss", "r2_loss", "acc_en"} <= tags
