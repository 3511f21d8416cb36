"""The frozen stage-1 model behind R2: loaded once, eval mode, no gradients, and kept out
of the student's state dict, optimizer and gradient synchronisation."""

import json
import os

import torch

from xtune_fairseq.checkpoints import load_fairseq_checkpoint
from xtune_fairseq.errors import InputError


class FrozenTeacher:
    """Not an nn.Module on purpose: a criterion holding it does not register its weights."""

    def __init__(self, path: str, task):
        from fairseq import checkpoint_utils

        state = load_fairseq_checkpoint(path)
        check_teacher_compatible(state, path, task)
        models, _ = checkpoint_utils.load_model_ensemble([path], task=task, state=state)
        self.model = models[0].eval().requires_grad_(False)
        self.task = task
        self.path = path

    def _match(self, like: torch.Tensor):
        p = next(self.model.parameters())
        if p.device != like.device or p.dtype != like.dtype:
            self.model.to(device=like.device, dtype=like.dtype)

    def predictions(self, view: dict, embedding_noise=None, like: torch.Tensor = None):
        """The task's (rows, items, labels) logits for the student's input view."""
        if like is not None:
            self._match(like)
        with torch.inference_mode():
            return self.task.predictions(self.model, view, embedding_noise)[0]


def check_teacher_compatible(state, path, task):
    """Same vocabulary and label set as the student, or a clear error."""
    weights = state["model"]
    rows = weights["encoder.sentence_encoder.embed_tokens.weight"].size(0)
    if rows != len(task.source_dictionary):
        raise InputError(f"{path}: teacher vocabulary has {rows} entries, the student's data "
                         f"{len(task.source_dictionary)}: the teacher must be fine-tuned from the same model")
    key = task.head_weight_key()
    if key not in weights:
        raise InputError(f"{path}: teacher has no head {key.rsplit('.', 2)[0]!r}: was it trained for this task?")
    if weights[key].size(0) != len(task.label_names):
        raise InputError(f"{path}: teacher predicts {weights[key].size(0)} labels, the student {len(task.label_names)}")
    teacher_data = None
    if state.get("cfg") is not None and state["cfg"].get("task") is not None:
        teacher_data = state["cfg"]["task"].get("data")
    info = os.path.join(teacher_data, "xtune.json") if teacher_data else None
    if info and os.path.isfile(info):
        with open(info) as f:
            labels = json.load(f)["labels"]
        if list(labels) != list(task.label_names):
            raise InputError(f"{path}: teacher was trained on labels {labels}, the student's data has {task.label_names}")
