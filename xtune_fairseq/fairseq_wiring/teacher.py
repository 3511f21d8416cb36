"""The frozen stage-1 model behind R2: loaded once, eval mode, no gradients, and kept out
of the student's state dict, optimizer and gradient synchronisation; R2's teacher, which answers
from its precomputed form (an xtune-teacher-cache file carried in the batch) where it can and from
that model for the other rows. Also the checks on such a file: made by this teacher, for these
rows, finite."""

import hashlib
import json
import os

import torch

from xtune_fairseq.fairseq_wiring.checkpoints import check_finite_weights, checkpoint_labels, load_fairseq_checkpoint
from xtune_fairseq.core.augment.gaussian_noise import noised_embeddings
from xtune_fairseq.core.batch import Batch
from xtune_fairseq.core.data.targets import items
from xtune_fairseq.core.errors import InputError, NonFiniteLoss
from xtune_fairseq.core.ownership import file_sha256
from xtune_fairseq.fairseq_wiring.checkpoints import safe_load
from xtune_fairseq.core.data.prepared import TRANSLATIONS, iter_examples, meta_path


class FrozenTeacher:
    """Not an nn.Module on purpose: a criterion holding it does not register its weights."""

    def __init__(self, path: str, task):
        from fairseq import checkpoint_utils  # late: fairseq: start-up time (about 3 s)

        state = load_fairseq_checkpoint(path)
        check_teacher_compatible(state, path, task)
        # built by the student's task: the teacher's own data folder is never read (it may be gone)
        state = {k: v for k, v in state.items() if k != "task_state"}
        models, _ = checkpoint_utils.load_model_ensemble([path], task=task, state=state)
        check_finite_weights(models[0], path)
        self.model = models[0].eval().requires_grad_(False)
        self.task = task
        self.path = path
        task.teacher_checkpoint = path  # a --teacher-cache must come from this file
        match_cache_and_teacher(task)

    def _match(self, like: torch.Tensor):
        p = next(self.model.parameters())
        if p.device != like.device or p.dtype != like.dtype:
            self.model.to(device=like.device, dtype=like.dtype)

    def predictions(self, view: dict, embedding_noise=None, like: torch.Tensor = None):
        """The task's (rows, items, labels) logits for the student's input view, with embedding_noise
        (batch, time, dim) on its word embeddings."""
        if like is not None:
            self._match(like)
        with torch.inference_mode(), noised_embeddings(self.model.encoder.sentence_encoder.embed_tokens, embedding_noise):
            logits, valid = self.task.predictions(self.model, view)
        # R2's KL zeroes terms where the teacher's p is NaN: the loss would stay finite and hide it
        if not bool(torch.isfinite(logits[valid]).all()):
            raise NonFiniteLoss(f"{self.path}: the teacher's logits are NaN/inf on this batch (its weights were "
                                f"finite when loaded: an overflow in {logits.dtype}?)")
        return logits


class Teacher:
    """R2's theta*, online or cached: the criterion asks it for the teacher's logits of a batch's
    input rows. Rows the batch carries cached predictions for (fixed inputs, --teacher-cache) are
    answered from the cache, the others (re-sampled or noised views) by one forward of the frozen
    model (--teacher-path) over just those rows."""

    def __init__(self, frozen, padding_idx: int):
        self.frozen = frozen  # a FrozenTeacher, or None with a cache alone
        self.padding_idx = padding_idx

    @classmethod
    def load(cls, path, task, padding_idx: int) -> "Teacher":
        return cls(FrozenTeacher(path, task) if path else None, padding_idx)

    def predictions(self, sample: Batch, embedding_noise=None, like: torch.Tensor = None) -> torch.Tensor:
        """(rows, items, labels) logits for the sample's input rows, with like's number of items."""
        n_items = like.size(1)
        cached = sample.get("teacher_cached")
        if cached is not None and bool(cached.all()):
            return items(sample["teacher_logits"], n_items, logits_dim=True)
        if self.frozen is None:
            raise InputError("rows without cached teacher predictions (re-sampled or noised views) need "
                             "--teacher-path besides --teacher-cache")
        view = sample["net_input"]
        if cached is None:
            return items(self.frozen.predictions(view, embedding_noise, like=like), n_items, logits_dim=True)
        rows = (~cached).nonzero().squeeze(1)
        tokens = view["src_tokens"][rows]
        width = int((tokens != self.padding_idx).sum(1).max())  # drop the padding the cached rows needed
        sub = {"src_tokens": tokens[:, :width]}
        noise = None if embedding_noise is None else embedding_noise[rows, :width]
        online = self.frozen.predictions(sub, noise, like=like)
        out = items(sample["teacher_logits"], n_items, logits_dim=True).to(online.dtype).clone()
        out[rows] = items(online, n_items, logits_dim=True)
        return out


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
    labels = checkpoint_labels(state)
    if labels is not None and labels != list(task.label_names):
        raise InputError(f"{path}: teacher was trained on labels {labels}, the student's data has {task.label_names}")


CACHE_FORMAT = 2  # 2: records its teacher's sha256 and its training rows' fingerprint


def load_teacher_cache(path: str, task, examples) -> dict:
    """An xtune-teacher-cache file, refused unless made by this teacher for these training rows:
    its logits are used by row position, so a reshuffled copy would silently pair the wrong ones."""

    cache = safe_load(path)
    if cache.get("format") not in (1, CACHE_FORMAT) or "original" not in cache:
        raise InputError(f"{path}: not a file written by xtune-teacher-cache")
    rebuild = f"rebuild it: {rebuild_command(path, task, cache)}"
    if cache["format"] != CACHE_FORMAT:
        raise InputError(f"{path}: an older teacher cache with no record of its teacher and data; {rebuild}")
    if cache["n_examples"] != len(examples) or list(cache["labels"]) != task.label_names:
        raise InputError(f"{path}: made for {cache['n_examples']} training examples with labels "
                         f"{cache['labels']}; this data has {len(examples)} with {task.label_names}")
    if cache["data_fingerprint"] != data_fingerprint(task.cfg.data, examples):
        raise InputError(f"{path}: made from other training rows than {task.cfg.data}/meta (ids, texts or their "
                         f"order differ); {rebuild}")
    bad = sum(int((~torch.isfinite(cache[k])).any(-1).sum()) for k in ("original", "translations"))
    if bad:
        raise InputError(f"{path}: holds NaN/inf teacher logits in {bad} row(s) (teacher {cache['teacher']}); "
                         "rebuild it from a finite checkpoint")
    task.teacher_cache_record = {"path": path, "sha256": cache["teacher_sha256"], "teacher": cache["teacher"]}
    match_cache_and_teacher(task)
    cache["translation_first"] = _first_translation_rows(path, cache.pop("translation_rows"), examples)
    return cache


def _first_translation_rows(path, rows: dict, examples) -> torch.Tensor:
    """{training id: its translations' cache rows} as the first row per training row (-1: none): an
    int64 tensor, shared by forked loader workers where a dict of lists would be copied into each."""
    first = torch.full((len(examples),), -1, dtype=torch.int64)
    for src, ex in enumerate(examples):
        mine = rows.get(ex.id)
        if mine:
            if list(mine) != list(range(mine[0], mine[0] + len(mine))):
                raise InputError(f"{path}: the translation rows of {ex.id!r} are not consecutive; rebuild it")
            first[src] = mine[0]
    return first


def match_cache_and_teacher(task):
    """--teacher-cache and --teacher-path together: the cache was made by that teacher file. Called
    when either is loaded (fairseq builds the criterion before or after the training set)."""
    record, teacher = task.teacher_cache_record, task.teacher_checkpoint
    if record is None or teacher is None or file_sha256(teacher) == record["sha256"]:
        return
    rebuild = rebuild_command(record["path"], task, record)
    raise InputError(f"{record['path']}: made by another teacher than --teacher-path {teacher} (by "
                     f"{record['teacher']}; sha256 differs); rebuild it: {rebuild}")


def rebuild_command(path, task, cache) -> str:
    teacher = task.teacher_checkpoint or cache.get("teacher", "STAGE1.pt")
    return f"xtune-teacher-cache --teacher {teacher} --data {task.cfg.data} --out {path}"



def data_fingerprint(data: str, examples) -> str:
    """sha256 of what a cache's rows stand for, in order: ids and texts of the training examples,
    then of meta/translations.jsonl (the cache's translation rows)."""

    table = meta_path(data, TRANSLATIONS)
    translations = iter_examples(table) if os.path.isfile(table) else []
    h = hashlib.sha256()
    for part in (examples, translations):
        for ex in part:
            h.update(json.dumps([ex.id, list(ex.texts)]).encode() + b"\n")
        h.update(b"--\n")
    return h.hexdigest()
