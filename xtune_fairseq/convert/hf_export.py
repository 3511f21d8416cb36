"""A fine-tuned checkpoint of ours (xtune_classification, xtune_sequence_labeling,
xtune_span_extraction) -> a HuggingFace XLM-R model directory: config.json, model.safetensors
and the tokenizer files, for AutoModelFor{SequenceClassification,TokenClassification,
QuestionAnswering} and AutoTokenizer. Needs neither fairseq nor transformers.

The checkpoint's data directory (its training folder, or --data: any xtune-preprocess folder of the
same kind and labels) supplies input0/dict.txt and sentencepiece.bpe.model (the token ids) and
label/dict.txt: the order of the head's outputs (task.label_index). For classification that file
is fairseq-preprocess's, ordered by training frequency, while the checkpoint records its labels
sorted by name; so id2label is read from label/dict.txt.
"""

import json
import logging
import os

from xtune_fairseq.fairseq_wiring.checkpoints import check_data_fits, safe_load
from xtune_fairseq.convert.hf_tagging import DECODER, POOLING_KEY, first_subword_decoding_differs
from xtune_fairseq.convert.hf_tokenizer import SPECIALS, dict_ordered_spm, tokenizer_files
from xtune_fairseq.convert.to_hf import KINDS, check_arch, fairseq_to_hf, hf_config, n_labels
from xtune_fairseq.core.data.prepared import INFO, TASK_OF_KIND, read_data_info
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import OutputDir, check_replaceable, dir_in_progress
from xtune_fairseq.core.qa.windows import INFO_KEY as QA_WORD_SPLIT, LEGACY_WORD_SPLIT, split_unspaced_of
from xtune_fairseq.core.xlmr_dir import model_args_of, read_dict_pieces

logger = logging.getLogger(__name__)
MARKER = "xtune-hf.json"
TOKENIZER = ("sentencepiece.bpe.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
HF_DIR = OutputDir("a HuggingFace model directory written by xtune-convert to-hf", MARKER,
                   frozenset(("config.json", "model.safetensors", MARKER) + TOKENIZER), ".tmp-xtune-hf-")
SPAN_HEAD = "span_head"  # tasks/xtune_span_extraction.py's (not imported: that would import fairseq)


def head_name(kind: str, task_cfg) -> str:
    if kind == "classification":
        return task_cfg.get("classification_head_name") or "sentence_classification_head"
    if kind == "tagging":
        return task_cfg.get("token_head_name") or "token_classification_head"
    return SPAN_HEAD


def checkpoint_kind(state, path: str):
    """(kind, task cfg) of a checkpoint written by fairseq-train with one of our tasks."""
    cfg = state.get("cfg") if isinstance(state, dict) else None
    task_cfg = cfg.get("task") if cfg is not None else None
    if task_cfg is None:
        raise InputError(f"{path}: no training configuration: not a checkpoint written by fairseq-train")
    kind = {task: k for k, task in TASK_OF_KIND.items()}.get(task_cfg.get("_name"))
    if kind is None:
        raise InputError(f"{path}: a {task_cfg.get('_name')} checkpoint; expected one of "
                         f"{', '.join(TASK_OF_KIND.values())}")
    return kind, task_cfg


def check_input_layout(kind: str, task_cfg, info: dict, path: str) -> None:
    """HF's tokenizer builds `<s> a </s>` and `<s> a </s></s> b </s>`: the checkpoint must have read those."""
    if kind != "classification":
        return  # tagging and QA windows are built with <s> and </s> only
    if task_cfg.get("init_token", 0) != 0:
        raise InputError(f"{path}: trained with --init-token {task_cfg.get('init_token')}; HF's tokenizer starts "
                         "with <s> (0)")
    if info.get("sentence_pair") and task_cfg.get("separator_token", 2) != 2:
        raise InputError(f"{path}: trained with --separator-token {task_cfg.get('separator_token')}; HF's tokenizer "
                         "separates a pair with </s></s> (2)")


def head_labels(data: str, count: int) -> list:
    """The names of the head's `count` outputs: label/dict.txt's first entries (task.label_index)."""
    path = os.path.join(data, "label", "dict.txt")
    if not os.path.isfile(path):
        raise InputError(f"{path} not found: is {data} a directory written by xtune-preprocess?")
    names = read_dict_pieces(path)
    if len(names) < count:
        raise InputError(f"{path}: {len(names)} labels, the checkpoint's head predicts {count}")
    return names[:count]


def _check_data_fits(state, task_cfg, path, data):
    """checkpoints.check_data_fits reads cfg as fairseq's reader leaves it (a DictConfig); safe_load
    gives the plain dict fairseq saved, whose cfg.model may be an argparse Namespace."""
    from omegaconf import OmegaConf  # late: with fairseq

    view = {"cfg": OmegaConf.create({"task": dict(task_cfg)}), "task_state": state.get("task_state")}
    check_data_fits(view, path, data)


def _data_dir(task_cfg, data: str, path: str) -> str:
    data = data or task_cfg.get("data")
    if not data or not os.path.isfile(os.path.join(data, INFO)):
        raise InputError(f"{path}: its data directory {data} is gone; pass --data (an xtune-preprocess directory "
                         "of the same kind and labels, binarized with the same model)")
    return data


def export_to_hf(checkpoint: str, out_dir: str, data: str = None, force: bool = False) -> dict:
    """Writes out_dir; returns what the CLI reports (kind, labels, trimmed pieces left out)."""
    state = safe_load(checkpoint)
    kind, task_cfg = checkpoint_kind(state, checkpoint)
    data = _data_dir(task_cfg, data, checkpoint)
    check_replaceable(out_dir, "--out", HF_DIR, [checkpoint, data], force)  # before the work, not only after
    _check_data_fits(state, task_cfg, checkpoint, data)
    info = read_data_info(data)
    check_input_layout(kind, task_cfg, info, checkpoint)
    arch = model_args_of(state, checkpoint)
    hidden_act = check_arch(arch, kind, checkpoint)
    hf_state = fairseq_to_hf(state["model"], kind, head_name(kind, task_cfg), int(arch["encoder_layers"]))
    labels = head_labels(data, n_labels(hf_state, kind))
    dict_path, sp_path = os.path.join(data, "input0", "dict.txt"), os.path.join(data, "sentencepiece.bpe.model")
    pieces = read_dict_pieces(dict_path)
    rows = hf_state["roberta.embeddings.word_embeddings.weight"].size(0)
    if rows != len(SPECIALS) + len(pieces) + 1:
        raise InputError(f"{checkpoint} has {rows} vocabulary entries, {dict_path} gives {len(pieces) + 5} "
                         f"({len(SPECIALS)} specials, {len(pieces)} pieces, <mask>): not the model it was trained with")
    with open(sp_path, "rb") as f:
        sp_bytes, dropped = dict_ordered_spm(f.read(), pieces, sp_path, dict_path)
    extra = {"format": 1, "task": kind, "max_positions": task_cfg.get("max_positions")}
    if kind == "tagging":
        extra.update(tagging_config(task_cfg.get("word_pooling", "first")))
    split_unspaced = kind == "qa" and split_unspaced_of(info, os.path.join(data, INFO))
    if kind == "qa":  # the words the model was trained on (xtune-preprocess --qa-word-split): the tokenizer's too
        extra[QA_WORD_SPLIT] = info.get(QA_WORD_SPLIT, LEGACY_WORD_SPLIT)
    config = hf_config(arch, kind, labels, hf_state, hidden_act, extra)
    files = tokenizer_files(sp_bytes, config["max_position_embeddings"] - 2, sp_path, split_unspaced)
    _write(out_dir, [checkpoint, data], force, config, hf_state, sp_bytes, files,
           {"format": 1, "checkpoint": os.path.abspath(checkpoint), "data": os.path.abspath(data),
            "kind": kind, "sentencepiece_pieces_left_out": dropped})
    warn_decoding(extra)
    return {"kind": kind, "labels": labels, "pieces": len(pieces), "pieces_left_out": dropped,
            "word_pooling": extra.get(POOLING_KEY)}


def tagging_config(pooling: str) -> dict:
    """config.json's xtune keys of a tagging export: the pooling, whether transformers' standard
    decoding (the label at each word's first subword) gives the trained labels, and what does."""
    return {POOLING_KEY: pooling, "first_subword_decoding": not first_subword_decoding_differs(pooling),
            "decode_words_with": DECODER}


def warn_decoding(extra: dict) -> None:
    """One line when transformers' standard decoding is not what the exported model predicts."""
    if extra.get("first_subword_decoding", True):
        return
    logger.warning("trained with --word-pooling %s: transformers' token-classification decoding (the label at "
                   "each word's first subword) is not what this model predicts; take word labels from %s(model, "
                   "tokenizer, sentences), which pools as training did (config.json: xtune.%s)",
                   extra[POOLING_KEY], DECODER, POOLING_KEY)


def _write(out_dir, inputs, force, config, hf_state, sp_bytes, files, marker):
    from safetensors.torch import save_file  # late: optional dependency

    with dir_in_progress(out_dir, "--out", HF_DIR, inputs, force) as tmp:
        save_file(hf_state, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(tmp, "sentencepiece.bpe.model"), "wb") as f:
            f.write(sp_bytes)
        for name, content in [("config.json", config), *files.items(), (MARKER, marker)]:
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                json.dump(content, f, indent=1, ensure_ascii=False)
                f.write("\n")



def describe(report: dict) -> str:
    """What the CLI prints: the HF class, labels, and a trimmed vocabulary's consequence."""
    lines = [f"{KINDS[report['kind']][0]}: labels {', '.join(report['labels'])}"]
    if report["pieces_left_out"]:
        lines.append(f"tokenizer: the model's dict.txt keeps {report['pieces']} sentencepiece pieces, "
                     f"{report['pieces_left_out']} were trimmed away and are left out of the tokenizer: where "
                     "fairseq maps such a piece to <unk>, the HF tokenizer segments into kept pieces instead")
    return "\n".join(lines)
