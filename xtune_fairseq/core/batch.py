"""What a training or evaluation batch holds: one declaration of the keys that the two collaters
(classification/tagging `PairedViewsDataset.collater`, QA `QAViewsDataset.collater`) write and the
criterion, the teacher and the tasks read.

The batch stays a dict at runtime: fairseq's trainer moves it to the GPU with `utils.move_to_cuda`
(`apply_to_sample`), which recurses into dicts, lists and tuples but not into dataclasses. Hence
TypedDicts, one per level; a key whose line says "optional" is absent where its collater leaves it
out (Python 3.10 has no NotRequired: those keys are in the `total=False` class). B is the batch's
rows, T the input view's positions, T' the partner's. tests/test_batch.py checks that real batches
of every kind hold these keys and no other."""

from typing import TypedDict

import torch


class _NetInputRequired(TypedDict):
    # (B, T) int64: the input view's token ids, padded with the dictionary's pad (QA: padded to the
    # width of both views, so that R2's teacher sees the student's position axis). Both collaters.
    src_tokens: torch.Tensor
    # (B,) int64: unpadded length of each row of src_tokens. Both collaters.
    src_lengths: torch.Tensor


class NetInput(_NetInputRequired, total=False):
    """The input view the model reads (fairseq's `sample["net_input"]`)."""

    # optional, (B, T) int64: the word of each token, NO_WORD on special tokens and padding (the
    # tagging task's rows; word_alignment). PairedViewsDataset.collater, tagging only.
    word_of_token: torch.Tensor


class _PartnerRequired(TypedDict):
    # (B, T') int64: the R1 partner view's token ids (A* / A'), padded with pad (QA: to the input's
    # width). Both collaters.
    src_tokens: torch.Tensor


class Partner(_PartnerRequired, total=False):
    """The R1 partner view of every row, present on training rows with --r1-augmentation."""

    # optional, (B, T') int64: the partner's word of each token, NO_WORD-padded.
    # PairedViewsDataset.collater, tagging only.
    word_of_token: torch.Tensor
    # optional, (B, K) int64: positions in the input window of the K tokens both windows share,
    # 0 where aligned_mask is False. QAViewsDataset.collater.
    aligned_input: torch.Tensor
    # optional, (B, K) int64: the partner window's positions of those same tokens, 0 where
    # aligned_mask is False. QAViewsDataset.collater.
    aligned_partner: torch.Tensor
    # optional, (B, K) bool: True where aligned_input / aligned_partner hold a position, False on
    # padding. QAViewsDataset.collater.
    aligned_mask: torch.Tensor


class _BatchRequired(TypedDict):
    # (B,) int64: the dataset row of each batch row (rows N.. are the augmented copies). Both collaters.
    id: torch.Tensor
    # int: B. Both collaters.
    nsentences: int
    # int: the input views' unpadded tokens, summed. Both collaters.
    ntokens: int
    # the input view the model reads. Both collaters.
    net_input: NetInput
    # (B,) bool: rows that are augmented copies A(x) rather than the originals of D. Both collaters.
    is_aug: torch.Tensor
    # (B,) int64: index of each row's language in the task's `languages`. Both collaters.
    lang: torch.Tensor


class Batch(_BatchRequired, total=False):
    """A batch of rows as the collaters make it and the criterion reads it."""

    # optional, the gold items: (B,) int64 class ids (classification), (B, words) int64 tag ids
    # padded with IGNORE (tagging), (B, 2) int64 start/end positions, IGNORE where the window holds
    # no answer (QA). PairedViewsDataset.collater where the split has targets; QAViewsDataset.collater
    # always.
    target: torch.Tensor
    # optional, (B, labels) float32: the teacher's cached logits of each row's input (zeros on rows
    # not cached). PairedViewsDataset.collater, where --teacher-cache holds a row of the batch.
    teacher_logits: torch.Tensor
    # optional, (B,) bool: rows whose teacher_logits are cached (the others: the teacher runs
    # online). Set together with teacher_logits.
    teacher_cached: torch.Tensor
    # optional: the R1 partner view, on training rows with --r1-augmentation. Both collaters.
    partner: Partner
