"""xtune-evaluate: per-language accuracy of one or more checkpoints on a split, with the
average over languages and the cross-lingual transfer gap, as JSON and a markdown table."""

import argparse
import json
import os

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.errors import InputError
from xtune_fairseq.evaluation.metrics import markdown_table, per_language_accuracy, summarize
from xtune_fairseq.files import atomic_open


def predict(checkpoint: str, data: str, split: str = "test", batch_size: int = 64):
    """(langs, predictions, golds) of a checkpoint on a split of an xtune-preprocess directory."""
    import torch
    from fairseq import checkpoint_utils

    import xtune_fairseq.register  # noqa: F401
    from xtune_fairseq.checkpoints import load_fairseq_checkpoint

    state = load_fairseq_checkpoint(checkpoint)
    models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [checkpoint], arg_overrides={"data": data}, state=state
    )
    model = models[0].eval()
    head = task.cfg.classification_head_name
    task.load_dataset(split)
    itr = task.get_batch_iterator(task.dataset(split), max_sentences=batch_size, ignore_invalid_inputs=False,
                                  num_workers=0).next_epoch_itr(shuffle=False)
    langs, preds, golds = [], [], []
    with torch.inference_mode():
        for sample in itr:
            logits = model(sample["net_input"]["src_tokens"], classification_head_name=head)[0]
            preds += logits.argmax(-1).tolist()
            golds += sample["target"].tolist()
            langs += [task.languages[i] for i in sample["lang"].tolist()]
    return langs, preds, golds


def evaluate(checkpoints, data, split="test", source="en", batch_size=64):
    results = {}
    for spec in checkpoints:
        name, path = spec.split("=", 1) if "=" in spec else (os.path.basename(os.path.dirname(spec)) or spec, spec)
        langs, preds, golds = predict(path, data, split, batch_size)
        results[name] = summarize(per_language_accuracy(langs, preds, golds), source)
        results[name]["checkpoint"] = os.path.abspath(path)
        results[name]["split"] = split
    return results


def write_outputs(results, json_path=None, markdown_path=None):
    table = markdown_table(results)
    for path, text in ((json_path, json.dumps(results, indent=1)), (markdown_path, table)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with atomic_open(path) as f:
                f.write(text + "\n")
    return table


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", action="append", required=True,
                   help="checkpoint to score, optionally NAME=PATH; repeat to compare runs")
    p.add_argument("--data", required=True, help="xtune-preprocess output directory")
    p.add_argument("--split", default="test")
    p.add_argument("--source-lang", default="en", help="language the gap is measured from")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--markdown", help="write the table here")
    args = p.parse_args(argv)

    def go():
        if not os.path.isdir(args.data):
            raise InputError(f"{args.data}: data directory not found")
        results = evaluate(args.checkpoint, args.data, args.split, args.source_lang, args.batch_size)
        print(write_outputs(results, args.json, args.markdown))

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
