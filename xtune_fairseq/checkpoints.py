"""Checkpoint reading through an allow-list.

torch >= 2.6 loads with weights_only=True, which refuses fairseq checkpoints (they hold
argparse and omegaconf objects). Switching that off would let any pickle in a checkpoint
run code; instead the few classes fairseq checkpoints really contain are allowed.
"""

import argparse
import collections
import os
import pickle
import typing

import numpy as np
import torch

from xtune_fairseq.errors import InputError


def _allowed_globals():
    from omegaconf import DictConfig, ListConfig
    from omegaconf.base import ContainerMetadata, Metadata
    from omegaconf.nodes import AnyNode, BooleanNode, FloatNode, IntegerNode, StringNode

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
    """torch.load with weights_only=True and the allow-list; a refused pickle is an InputError."""
    return _translate_errors(path, lambda: torch.load(path, map_location="cpu", weights_only=True))


def load_fairseq_checkpoint(path: str):
    """fairseq's own reader (cfg upgraded to omegaconf), under the same allow-list."""
    from fairseq import checkpoint_utils

    return _translate_errors(path, lambda: checkpoint_utils.load_checkpoint_to_cpu(path))


def _translate_errors(path, load):
    install_allowlist()
    if not os.path.isfile(path):
        raise InputError(f"{path}: checkpoint not found")
    try:
        return load()
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
        raise InputError(
            f"{path}: refused to load: it holds objects outside the allow-list of fairseq "
            f"checkpoint classes, so it may run code when unpickled ({first})"
        ) from None
    except (RuntimeError, EOFError) as e:
        raise InputError(f"{path}: not a readable torch checkpoint ({e})") from None


def install_atomic_copy() -> None:
    """fairseq writes the first file of a save atomically, then copies it to the other names
    (checkpoint_best.pt -> checkpoint_last.pt) with a plain copy, which a kill can truncate.
    Local copies now go to a temporary name in the destination folder and are renamed."""
    from fairseq.file_io import PathManager

    from xtune_fairseq.files import atomic_copy

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
