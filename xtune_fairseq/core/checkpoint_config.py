"""What a checkpoint's configuration may hold before anything is built from it.

The unpickling allow-list (checkpoints.py) stops code hidden in a pickle, but a file holding only
allowed types can still run code through its configuration: fairseq builds the model and the task
that `cfg` / `args` name, and some of fairseq's code `eval()`s configuration strings (fconv's layer
lists, an optimizer's betas, `utils.eval_str_list`), and OmegaConf resolves `${resolver:...}`
interpolations. So a checkpoint's configuration is checked, raw, before fairseq touches it: the
architecture is one of the XLM-R/RoBERTa encoders we read, the task is ours or the masked-LM task
pretrained models carry, no field fairseq evaluates holds anything but a Python literal, and no
string holds an OmegaConf resolver call. Anything else is refused in one line naming the file and
the field.
"""

import argparse
import ast
import re
from typing import Iterator, Tuple

from xtune_fairseq.core.errors import InputError

# fairseq architectures / model names whose build code we read (RoBERTa's encoder, XLM-R, ours)
ARCHITECTURES = frozenset({
    "xlmr_xtune", "roberta", "roberta_base", "roberta_large", "roberta_prenorm", "xlm", "xlmr",
})
# ours, and the tasks pretrained XLM-R / RoBERTa model.pt files name
TASKS = frozenset({
    "xtune_classification", "xtune_sequence_labeling", "xtune_span_extraction",
    "masked_lm", "multilingual_masked_lm", "sentence_prediction",
})
# configuration fields some fairseq code passes to eval() or utils.eval_str_list / eval_str_dict /
# eval_bool (tests/test_checkpoint_config.py reads fairseq's source and fails if one is missing)
EVALUATED_FIELDS = frozenset({
    "adafactor_eps", "adam_betas", "adamax_betas", "lamb_betas",
    "adaptive_softmax_cutoff", "adaptive_input_cutoff", "character_filters",
    "conv_aggregator_layers", "conv_dec_config", "conv_enc_config", "conv_feature_layers",
    "decoder_attention", "decoder_layers", "downsample", "encoder_attention", "encoder_layers",
    "feature_encoder_spec", "gated_attention", "left_pad_source", "left_pad_target", "model_overrides",
    "pipeline_balance", "pipeline_decoder_balance", "pipeline_decoder_devices", "pipeline_devices",
    "pipeline_encoder_balance", "pipeline_encoder_devices", "pretrained", "project_input",
    "self_attention", "transformer_context", "transformer_dec_config", "transformer_enc_config",
    "transformer_sampling", "vggblock_enc_config", "wer_args",
})
# ${name:...} calls a registered resolver; a plain ${a.b} reference is only a lookup
_RESOLVER_CALL = re.compile(r"\$\{\s*[\w.]+\s*:")


def check_checkpoint_config(state, path: str) -> None:
    """Raises InputError unless building a model and a task from state's cfg / args runs only our
    code on literal values. A state with neither (a weights file, a teacher cache) passes."""
    if not isinstance(state, dict):
        return
    for section in ("cfg", "args"):
        config = _plain(state.get(section))
        if config is None:
            continue
        for where, value in _strings(config, section):
            if _RESOLVER_CALL.search(value):
                raise InputError(f"{path}: {where} holds an OmegaConf resolver call {_short(value)}; "
                                 "a checkpoint's configuration may hold literals only")
            if where.rsplit(".", 1)[-1] in EVALUATED_FIELDS and not _is_literal(value):
                raise InputError(f"{path}: {where} = {_short(value)} is not a Python literal (fairseq evaluates "
                                 "this field); refused")
        model, task = _names(config, section)
        for where, name in model:
            if name not in ARCHITECTURES:
                raise InputError(f"{path}: {where} = {name!r} is not an architecture this project reads; "
                                 f"expected one of {sorted(ARCHITECTURES)}")
        for where, name in task:
            if name not in TASKS:
                raise InputError(f"{path}: {where} = {name!r} is not a task this project reads; "
                                 f"expected one of {sorted(TASKS)}")


def _plain(config):
    """dicts, lists and scalars for an omegaconf container (unresolved: resolving may run a resolver)
    or an argparse Namespace; None stays None."""
    if config is None:
        return None
    if isinstance(config, argparse.Namespace):
        return {k: _plain(v) for k, v in vars(config).items()}
    if isinstance(config, dict):
        return {k: _plain(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [_plain(v) for v in config]
    if type(config).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf  # only when a checkpoint holds omegaconf objects (older fairseq)

        return _plain(OmegaConf.to_container(config, resolve=False))
    return config


def _strings(node, where: str) -> Iterator[Tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise InputError(f"{where}: key {key!r} is not a string")
            yield from _strings(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{where}[{i}]")
    elif isinstance(node, str):
        yield where, node


def _names(config: dict, section: str):
    """([(field, architecture)], [(field, task)]) as fairseq's build_model / setup_task would read
    them: cfg.model._name and cfg.model.arch, cfg.task._name; args.arch and args.task."""
    if section == "args":
        parts = [(config, "args")]
        model_keys, task_keys = ("arch",), ("task",)
        return _named(parts, model_keys), _named(parts, task_keys)
    model, task = config.get("model"), config.get("task")
    model_names = _named([(model, "cfg.model")], ("_name", "arch")) if isinstance(model, dict) else []
    if isinstance(model, dict) and not model_names:
        model_names = [("cfg.model._name", None)]  # fairseq would guess it from the section's keys
    task_names = _named([(task, "cfg.task")], ("_name",)) if isinstance(task, dict) else []
    return model_names, task_names


def _named(parts, keys):
    return [(f"{where}.{key}", node[key]) for node, where in parts for key in keys if node.get(key) is not None]


def _is_literal(value: str) -> bool:
    try:
        ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _short(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")
