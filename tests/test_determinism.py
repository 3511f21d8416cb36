"""The same seed on CPU gives the same losses and dev metrics twice, augmentations included."""

import json

from conftest import fairseq_train, train_args


def logged(out):
    return [json.loads(line[line.index("{"):]) for line in out.splitlines()
            if ("| train_inner |" in line or "| valid |" in line) and "{" in line]


def test_same_seed_same_metrics(tiny, tmp_path):
    flags = ["--data-augmentation", "ss", "--r1-augmentation", "cs", "--code-switch-dicts", tiny["dicts"],
             "--subword-alpha", "0.05", "--r1-lambda", "5", "--max-update", "8", "--no-save"]
    _, first = fairseq_train(train_args(tiny, tmp_path / "a", *flags))
    _, second = fairseq_train(train_args(tiny, tmp_path / "b", *flags))
    a, b = logged(first), logged(second)
    strip = ("wall", "wps", "ups", "free")  # timings
    assert len(a) >= 8 and any(float(x.get("r1_loss", x.get("valid_r1_loss", 0))) > 0 for x in a)
    def metrics(rows):
        return [{k: v for k, v in x.items() if k.rsplit("_", 1)[-1] not in strip} for x in rows]

    assert metrics(a) == metrics(b)
