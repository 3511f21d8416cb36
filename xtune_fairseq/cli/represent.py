"""xtune-represent: a t-SNE (or PCA) picture of first-token (<s>) representations of labelled
examples in several languages, coloured by label, marked by language, with lines joining
translations (the paper's Figure 3). Compare a baseline and an xTune checkpoint side by side.

  xtune-represent --model runs/x/stage2/checkpoint_best.pt --data data-bin --split valid \\
      --langs en,de,fr --per-lang 100 --out xtune-tsne.png
"""

import argparse
import os

from xtune_fairseq.cli.common import check_output_path, run_cli
from xtune_fairseq.core.data.prepared import meta_path, read_examples
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.core.ownership import mark_output


def first_token_vectors(encoder, texts, layer=-1, batch_size=32):
    import numpy as np

    out = []
    for i in range(0, len(texts), batch_size):
        hidden, _ = encoder.layer_states(texts[i:i + batch_size], layer if layer >= 0 else
                                         len(encoder.model.encoder.sentence_encoder.layers))
        out.append(hidden[:, 0])
    return np.concatenate(out)


COMMAND = "xtune-represent"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model directory or checkpoint")
    p.add_argument("--data", required=True, help="xtune-preprocess output (labelled examples with languages)")
    p.add_argument("--split", default="valid")
    p.add_argument("--langs", default=None, help="comma-separated (default: all in the split)")
    p.add_argument("--per-lang", type=int, default=100)
    p.add_argument("--layer", type=int, default=-1, help="-1: the last layer")
    p.add_argument("--method", choices=["tsne", "pca"], default="tsne")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True, help="PNG path")
    p.add_argument("--force", action="store_true", help="replace an --out file that is not this command's own "
                   "previous output")
    a = p.parse_args(argv)

    def go():
        check_ranges(a)
        check_output_path(a.out, "--out", [a.model, a.data], COMMAND, a.force)  # before the work
        from xtune_fairseq.fairseq_wiring.encoders import load_encoder
        from xtune_fairseq.core.metrics.plots import representation_plot
        from xtune_fairseq.core.metrics.projection import project_2d, translation_links
        examples = read_examples(meta_path(a.data, a.split))
        langs = a.langs.split(",") if a.langs else sorted({ex.lang for ex in examples})
        chosen = []
        for lang in langs:
            rows = [ex for ex in examples if ex.lang == lang][: a.per_lang]
            if not rows:
                raise InputError(f"{a.data}: no {a.split} examples in language {lang!r}")
            chosen += rows
        enc = load_encoder(a.model, a.data if not os.path.isdir(a.model) else None)
        texts = [" ".join(ex.texts) for ex in chosen]
        points = project_2d(first_token_vectors(enc, texts, a.layer), a.method, a.seed)
        links = translation_links([ex.id for ex in chosen], [ex.lang for ex in chosen])
        title = f"{os.path.basename(os.path.dirname(a.model)) or a.model}: {a.method}, {len(chosen)} examples"
        representation_plot(points, [ex.label for ex in chosen], [ex.lang for ex in chosen], links, a.out, title)
        mark_output(a.out, COMMAND)
        print(f"wrote {a.out} ({len(chosen)} points, {len(links)} translation links)")

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
