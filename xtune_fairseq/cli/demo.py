"""The README's main command: baseline fine-tuning vs. two-stage xTune (code-switch, the paper's
Table 7 classification recipe), evaluated per language.

--preset tiny: a tiny random model and generated three-language data (seconds; no downloads).
"""

import argparse
import os
import time

from xtune_fairseq.cli.common import run_cli


def run_tiny(out, seed):
    from xtune_fairseq.cli import pipeline
    from xtune_fairseq.cli.evaluate import write_outputs
    from xtune_fairseq.cli.make_tiny_model import build_tiny_model
    from xtune_fairseq.cli.preprocess import preprocess
    from xtune_fairseq.synthetic import generate

    data = generate(os.path.join(out, "data"), seed=1)
    model = os.path.join(out, "model")
    if not os.path.isfile(os.path.join(model, "model.pt")):
        print("[demo] building the tiny model", flush=True)
        build_tiny_model(model, data["corpus"])
    bin_dir = os.path.join(out, "bin")
    if not os.path.isfile(os.path.join(bin_dir, "xtune.json")):
        print("[demo] binarizing", flush=True)
        preprocess(model, bin_dir, data["train"], data["valid"], data["test"], data["translations"])
    dicts = f"{data['dict_de']},{data['dict_fr']}"
    common = ["--model-dir", model, "--data", bin_dir, "--lr", "1e-3", "--epochs", "5", "--seed", str(seed),
              "--code-switch-dicts", dicts, "--log-interval", "100"]
    print("[demo] baseline: plain fine-tuning on English", flush=True)
    base = pipeline.run(pipeline.parse(common + ["--out", os.path.join(out, f"baseline-s{seed}"),
                                                  "--recipe", "baseline", "--stages", "1"]))
    print("[demo] xTune: stage 1 (R1, code-switch) then stage 2 (D + CS(D), R1, R2)", flush=True)
    xt = pipeline.run(pipeline.parse(common + ["--out", os.path.join(out, f"xtune-s{seed}"), "--recipe", "xnli"]))
    results = {"baseline": base["stage1"], "xtune": xt["stage2"]}
    return write_outputs(results, os.path.join(out, f"results-s{seed}.json"), os.path.join(out, f"results-s{seed}.md"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=["tiny"], default="tiny")
    p.add_argument("--out", default="work/demo")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)

    def go():
        start = time.time()
        table = run_tiny(os.path.join(a.out, a.preset), a.seed)
        print(f"\n[demo] {a.preset}, seed {a.seed}, {time.time() - start:.0f} s\n\n{table}")

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
