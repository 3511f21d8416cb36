"""Checkpoint reading through an allow-list, then a check of the configuration.

torch >= 2.6 loads with weights_only=True, which refuses fairseq checkpoints (they hold
argparse and omegaconf objects). Switching that off would let any pickle in a checkpoint
run code; instead the few classes fairseq checkpoints really contain are allowed. A file of
allowed types can still run code through the configuration fairseq builds a model from, so
every read checks it (checkpoint_config.py) before fairseq sees it; fairseq's own reader
(--restore-file, --finetune-from-model, fairseq-validate --path, hub loading) is replaced by
the same read (install_checked_reader).
"""

import argparse
import collections
import os
import pickle
import re
import typing

import numpy as np
import torch

from xtune_fairseq.core.checkpoint_config import check_checkpoint_config
from xtune_fairseq.core.data.prepared import INFO, TASK_OF_KIND, read_data_info
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_copy
from xtune_fairseq.core.qa.windows import INFO_KEY as QA_WORD_SPLIT, word_split_of


def _allowed_globals():
    from omegaconf import DictConfig, ListConfig  # late: with fairseq
    from omegaconf.base import ContainerMetadata, Metadata  # late: with fairseq
    from omegaconf.nodes import AnyNode, BooleanNode, FloatNode, IntegerNode, StringNode  # late: with fairseq

    return [
        argparse.Namespace,
        collections.defaultdict,
        collections.OrderedDict,
        dict, list, int, float, str, bool, tuple,
        typing.Any,
        DictConfig, ListConfig, ContainerMetadata, Metadata,
        AnyNode, BooleanNode, FloatNode, IntegerNode, StringNode,
        # numpy scalars (best metric values, meters)
        np._core.multiarray.scalar,
        np.dtype, np.dtypes.Float64DType, np.dtypes.Float32DType, np.dtypes.Int64DType,
    ]


_installed = False


def install_allowlist() -> None:
    """Lets torch.load(weights_only=True), fairseq's own included, read fairseq checkpoints."""
    global _installed
    if not _installed:
        torch.serialization.add_safe_globals(_allowed_globals())
        _installed = True


def safe_load(path: str):
    """torch.load with weights_only=True and the allow-list, then the configuration check; a refused
    pickle or configuration is an InputError. The state is as stored (cfg a plain dict)."""
    state = _translate_errors(path, lambda: torch.load(path, map_location="cpu", weights_only=True))
    check_checkpoint_config(state, path)
    return state


def load_fairseq_checkpoint(path: str, arg_overrides=None):
    """What fairseq's checkpoint_utils.load_checkpoint_to_cpu returns (cfg as omegaconf, old states
    upgraded, arg_overrides applied), read through safe_load: the file is read once, and checked
    before any of fairseq's code sees its configuration."""
    from fairseq.checkpoint_utils import _upgrade_state_dict  # late: fairseq: start-up time (about 3 s)
    from fairseq.dataclass.utils import overwrite_args_by_name  # late: fairseq: start-up time (about 3 s)
    from omegaconf import OmegaConf  # late: with fairseq

    state = safe_load(path)
    if state.get("args") is not None and arg_overrides is not None:
        for name, value in arg_overrides.items():
            setattr(state["args"], name, value)
    if state.get("cfg") is not None:
        state["cfg"] = OmegaConf.create(state["cfg"], flags={"allow_objects": True})
        if arg_overrides is not None:
            overwrite_args_by_name(state["cfg"], arg_overrides)
    return _upgrade_state_dict(state)


def load_with_data(path: str, data: str = None, **task_overrides):
    """(model in eval mode, task) of a fine-tuned checkpoint whose task reads `data` (default: the
    folder it was trained on). fairseq applies arg_overrides only when it reads the file itself, so
    cfg.task is edited here before the task is built; the training folder is then never read."""
    from fairseq import checkpoint_utils, tasks  # late: fairseq: start-up time (about 3 s)
    from omegaconf import open_dict  # late: with fairseq

    state = load_fairseq_checkpoint(path)
    task_cfg = _task_cfg(state, path)
    data = data or _training_data(path, task_cfg)
    check_data_fits(state, path, data)
    with open_dict(task_cfg):
        task_cfg.data = data
        for key, value in task_overrides.items():
            task_cfg[key] = value
    task = tasks.setup_task(task_cfg, from_checkpoint=True)
    rows = state["model"]["encoder.sentence_encoder.embed_tokens.weight"].size(0)
    if rows != len(task.source_dictionary):
        raise InputError(f"{path} has {rows} vocabulary entries, {data}/input0/dict.txt {len(task.source_dictionary)}: "
                         "binarize the data with the checkpoint's model (xtune-preprocess --model-dir)")
    models, _ = checkpoint_utils.load_model_ensemble([path], task=task, state=state)
    check_finite_weights(models[0], path)
    return models[0].eval(), task


def _task_cfg(state, path):
    cfg = state.get("cfg")
    if cfg is None or cfg.get("task") is None:
        raise InputError(f"{path}: no training configuration: not a checkpoint written by fairseq-train")
    return cfg.task


def _training_data(path, task_cfg):
    old = task_cfg.get("data")
    if not old or not os.path.isfile(os.path.join(old, INFO)):
        raise InputError(f"{path}: its training data {old} is gone; pass --data (an xtune-preprocess directory "
                         "with the same labels)")
    return old


def checkpoint_labels(state):
    """The labels a checkpoint's head predicts, in order: as its task recorded them (task_state), else
    from its training folder if that still exists; None when neither is there."""
    labels = (state.get("task_state") or {}).get("labels")
    if labels is not None:
        return list(labels)
    data = (state.get("cfg") or {}).get("task", {}).get("data")
    if data and os.path.isfile(os.path.join(data, INFO)):
        return list(read_data_info(data)["labels"])
    return None


def check_data_fits(state, path, data):
    """The data's kind and label set are the ones the checkpoint's head was trained for."""
    info, task_cfg = read_data_info(data), _task_cfg(state, path)
    kind = info.get("kind", "classification")
    trained_kind = {name: k for k, name in TASK_OF_KIND.items()}.get(task_cfg.get("_name"))
    if trained_kind is None:
        raise InputError(f"{path}: a {task_cfg.get('_name')} checkpoint, not one fine-tuned with an xtune task")
    if trained_kind != kind:
        raise InputError(f"{path} is a {trained_kind} checkpoint but {data} holds {kind} data")
    labels, theirs = checkpoint_labels(state), list(info["labels"])
    if labels is not None and labels != theirs:
        raise InputError(f"{path} predicts labels {labels}, {data} has {theirs}")
    count = task_cfg.get("num_classes", -1)
    if labels is None and count > 0 and count != len(theirs):
        raise InputError(f"{path} predicts {count} labels, {data} has {len(theirs)}: {theirs}")
    trained = (state.get("task_state") or {}).get(QA_WORD_SPLIT)  # QA checkpoints since --qa-word-split
    if kind == "qa" and trained is not None and trained != word_split_of(info, os.path.join(data, INFO)):
        raise InputError(f"{path} was trained on QA words split by {trained}, {data} splits them by "
                         f"{word_split_of(info, data)}: rerun xtune-preprocess --qa-word-split {trained}")


def check_finite_weights(model, path):
    """A diverged checkpoint predicts NaN, which R2's KL would silently zero and accuracy would hide."""
    for name, p in model.named_parameters():
        if not bool(torch.isfinite(p).all()):
            raise InputError(f"{path}: weights {name} hold NaN/inf: the run diverged; use an earlier checkpoint")


def _translate_errors(path, load):
    install_allowlist()
    if not os.path.isfile(path):
        raise InputError(f"{path}: checkpoint not found")
    try:
        return load()
    except pickle.UnpicklingError as e:
        raise InputError(
            f"{path}: refused to load: it holds objects outside the allow-list of fairseq "
            f"checkpoint classes, so it may run code when unpickled ({_refusal_reason(e)})"
        ) from None
    except (RuntimeError, EOFError) as e:
        raise InputError(f"{path}: not a readable torch checkpoint ({e})") from None


def _refusal_reason(e) -> str:
    """The global torch refused (e.g. 'unsupported global: __main__.Payload'), else the first line,
    without torch's terminal colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
    found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if found:
        return f"unsupported global: {found.group(1)}"
    return text.strip().splitlines()[0] if text.strip() else repr(e)


def install_checked_reader() -> None:
    """fairseq's own reader (--restore-file, --finetune-from-model, hydra's checkpoint.restore_file,
    fairseq-validate --path, XLMRModel.from_pretrained) becomes load_fairseq_checkpoint: the same
    allow-list, the configuration checked before fairseq builds anything from it, and a refusal is
    one InputError line (the excepthook of register.py prints it), not a traceback."""
    from fairseq import checkpoint_utils  # late: fairseq: start-up time (about 3 s)
    from fairseq.file_io import PathManager  # late: fairseq: start-up time (about 3 s)

    if getattr(checkpoint_utils.load_checkpoint_to_cpu, "_xtune", False):
        return

    def load_checkpoint_to_cpu(path, arg_overrides=None, load_on_all_ranks=False):
        return load_fairseq_checkpoint(PathManager.get_local_path(path), arg_overrides)

    load_checkpoint_to_cpu._xtune = True
    checkpoint_utils.load_checkpoint_to_cpu = load_checkpoint_to_cpu


def install_atomic_copy() -> None:
    """fairseq writes the first file of a save atomically, then copies it to the other names
    (checkpoint_best.pt -> checkpoint_last.pt) with a plain copy, which a kill can truncate.
    Local copies now go to a temporary name in the destination folder and are renamed."""
    from fairseq.file_io import PathManager  # late: fairseq: start-up time (about 3 s)


    if getattr(PathManager.copy, "atomic", False):
        return
    plain_copy = PathManager.copy

    def copy(src_path: str, dst_path: str, overwrite: bool = False):
        if "://" in str(dst_path):
            return plain_copy(src_path, dst_path, overwrite)
        atomic_copy(src_path, dst_path)
        return True

    copy.atomic = True
    PathManager.copy = staticmethod(copy)


def checkpoint_state(model_args: argparse.Namespace, model_state: dict) -> dict:
    """A fairseq checkpoint dict as published XLM-R model.pt files hold it."""
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf  # late: fairseq: start-up time (about 3 s)
    from omegaconf import OmegaConf  # late: with fairseq

    cfg = convert_namespace_to_omegaconf(model_args)
    return {
        "args": None,
        "cfg": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
        "model": model_state,
        "optimizer_history": [{"criterion_name": "MaskedLmLoss", "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": None}, "num_updates": 0}],
        "extra_state": {},
    }
