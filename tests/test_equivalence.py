"""With both lambdas 0 and no augmentation, xTune trains exactly like fairseq's own
sentence_prediction task and criterion (same seed, same data, same pretrained weights)."""

import json
import os

from conftest import USER_DIR, fairseq_train

COMMON = ["--optimizer", "adam", "--lr", "1e-3", "--batch-size", "16", "--max-update", "12", "--cpu",
          "--num-workers", "0", "--log-format", "json", "--log-interval", "1", "--seed", "7", "--no-save",
          "--max-positions", "512", "--disable-validation", "--pooler-dropout", "0.0"]


def train_losses(out):
    losses = []
    for line in out.splitlines():
        if "train_inner" in line and "{" in line:
            stats = json.loads(line[line.index("{"):])
            losses.append((int(stats["num_updates"]), float(stats["loss"]), float(stats["accuracy"])))
    return losses


def test_same_losses_as_sentence_prediction(tiny, tmp_path):
    _, ours = fairseq_train([
        tiny["bin"], "--user-dir", USER_DIR, "--task", "xtune_classification", "--arch", "xlmr_xtune",
        "--pretrained-dir", tiny["model"], "--criterion", "xtune_consistency", "--r1-lambda", "0",
        "--r2-lambda", "0", "--save-dir", tmp_path / "ours", *COMMON])
    # --user-dir only for its checkpoint allow-list: torch 2.13 refuses fairseq checkpoints otherwise
    _, theirs = fairseq_train([
        tiny["bin"], "--user-dir", USER_DIR, "--task", "sentence_prediction", "--arch", "roberta", "--num-classes", "3",
        "--init-token", "0", "--separator-token", "2", "--criterion", "sentence_prediction",
        "--encoder-layers", "2", "--encoder-embed-dim", "32", "--encoder-ffn-embed-dim", "64",
        "--encoder-attention-heads", "2", "--restore-file", os.path.join(tiny["model"], "model.pt"),
        "--reset-optimizer", "--reset-dataloader", "--reset-meters", "--save-dir", tmp_path / "theirs", *COMMON])
    a, b = train_losses(ours), train_losses(theirs)
    assert len(a) == 12 and len(b) == 12
    for (ua, la, acc_a), (ub, lb, acc_b) in zip(a, b):
        assert ua == ub and abs(la - lb) < 1e-3 and acc_a == acc_b, (a, b)
    assert a[0][1] != a[-1][1]  # it did train
