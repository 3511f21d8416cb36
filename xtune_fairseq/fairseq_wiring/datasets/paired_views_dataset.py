"""A fairseq dataset whose rows carry an input view and its R1 partner view.

Classification rows hold one label; tagging rows a tag per word and the word of every token
(`word_of_token`), so that predictions of two views can be compared word by word.

Rows 0..N-1 are the examples of D (input = the original tokens); rows N.. are the
augmented copies A(x) of stage 2. Each row's partner is A*(x) / A'(x), drawn afresh every
epoch from (seed, epoch, index), so views differ across epochs and repeat across reruns.
With binarized views (`xtune-preprocess views`, data/binarized_views.py) the first epochs' views
are read by row index instead of drawn; later epochs are drawn as before.
"""

from typing import List, Optional, Sequence

import numpy as np
import torch
from fairseq.data import FairseqDataset, data_utils

from xtune_fairseq.core.augment.machine_translation import PARTNER_IS_ORIGINAL, PARTNER_OF_TRANSLATION, partner_source
from xtune_fairseq.core.augment.views import View, ViewMaker
from xtune_fairseq.core.batch import Batch, NetInput, Partner
from xtune_fairseq.core.data.compact_rows import IntLists
from xtune_fairseq.core.data.tagged import TaggedSentence
from xtune_fairseq.core.data.targets import IGNORE
from xtune_fairseq.fairseq_wiring.datasets.view_rows import INPUT_STREAM, PARTNER_STREAM, ViewRowsDataset
from xtune_fairseq.core.word_alignment import NO_WORD


class TokenViews:
    """Original views from a fairseq token dataset (classification: binarized by fairseq-preprocess)."""

    def __init__(self, tokens: FairseqDataset):
        self.tokens, self.sizes = tokens, np.asarray(tokens.sizes)

    def __len__(self):
        return len(self.tokens)

    def __getitem__(self, i) -> View:
        return View(self.tokens[i].tolist())


class ListViews:
    """Original views encoded once at load time (tagging: ids and word maps), kept as flat arrays
    that forked loader workers share (compact_rows); views[i] is an equal View, built when read."""

    def __init__(self, views: Sequence[View]):
        if any(v != View(v.ids, word_of_token=v.word_of_token) or v.word_of_token is None for v in views):
            raise ValueError("ListViews keeps the token ids and word maps of original views only")
        self.ids, self.words = IntLists(v.ids for v in views), IntLists(v.word_of_token for v in views)
        self.sizes = self.ids.lengths()

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i) -> View:
        return View(self.ids[i], word_of_token=self.words[i])


class TargetRows:
    """A tag id per word of every sentence as one flat tensor (shared by forked loader workers, as
    ListViews); rows[i] is the i-th sentence's slice of it."""

    def __init__(self, tag_ids: Sequence[Sequence[int]]):
        rows = IntLists(tag_ids)
        self.flat, self.starts = torch.from_numpy(rows.flat), rows.starts

    def __len__(self):
        return len(self.starts) - 1

    def __getitem__(self, i) -> torch.Tensor:
        return self.flat[int(self.starts[i]):int(self.starts[i + 1])]


class PairedViewsDataset(ViewRowsDataset):
    def __init__(
        self,
        originals,  # TokenViews / ListViews: the original view of each example, `<s> a </s> [</s> b </s>]`
        examples: Sequence,  # readers.Example or tagged.TaggedSentence, same order (compact_rows.CompactRows)
        targets: Optional[Sequence[torch.Tensor]],  # a label, or a tag per word, per example
        langs: torch.Tensor,
        pad_idx: int,
        seed: int,
        augment: Optional[ViewMaker] = None,  # A: makes the augmented copies
        augmented_ratio: float = 1.0,
        partner: Optional[ViewMaker] = None,  # A* or A': the R1 view
        teacher_cache: Optional[dict] = None,  # xtune-teacher-cache output: R2 targets of fixed inputs
    ):
        self.teacher_cache = teacher_cache
        self.originals, self.examples = originals, examples
        self.targets, self.langs, self.pad_idx = targets, langs, pad_idx
        self.augment, self.partner = augment, partner
        self.stored = None  # BinarizedViews: the views of the first epochs, read instead of drawn
        self.init_rows(originals.sizes, seed, augmented_ratio, augment is not None)

    def read_views_from(self, stored) -> None:
        """Views of the epochs `stored` holds come from it; later epochs are drawn online."""
        self.stored = stored
        stored.note_epoch(self.epoch)

    def set_epoch(self, epoch):
        super().set_epoch(epoch)
        if self.stored is not None:
            self.stored.note_epoch(epoch)

    def drawn_views(self, index):
        """(input view, R1 partner view or None) of row `index` in this epoch. `xtune-preprocess views`
        binarizes what this returns, so stored and online views are the same by construction."""
        src = self.source_index(index)
        orig, example = self.originals[src], self.examples[src]
        is_aug = index >= len(self.originals)
        view = self._view(INPUT_STREAM, index, src, self.augment, example, orig) if is_aug else orig
        if self.partner is None:
            return view, None
        source = partner_source(self.augment.kind if is_aug else "none", self.partner.kind, is_aug,
                                view.translation is not None, self.partner.translation_has_own_views)
        if source == PARTNER_IS_ORIGINAL:
            return view, orig  # a translation's own fresh translation would be itself
        if source == PARTNER_OF_TRANSLATION:
            # the translation as an example of its own, so A' re-samples the translated words
            translated = TaggedSentence(example.id, example.lang, view.translation_words)
            return view, self._view(PARTNER_STREAM, index, src, self.partner, translated, view)
        return view, self._view(PARTNER_STREAM, index, src, self.partner, example, orig)

    def _view(self, stream, index, src, maker, example, base) -> View:
        """maker's view of example for this row and stream: the stored one where the binarized views
        hold this epoch, else drawn from (seed, epoch, row, stream)."""
        got = None if self.stored is None else self.stored.read(self.epoch, stream, index, src)
        if got is None:
            return maker(example, base, self.rng(index, stream))
        ids, words, k = got
        translated_words = None  # tagging: a translated row's words (its length; it has no tags)
        if k is not None and words is not None:
            translated_words = tuple(maker.translations[example.id][k].words)
        return View(ids, word_of_token=words, translation=k, translation_words=translated_words)

    def __getitem__(self, index):
        src = self.source_index(index)
        is_aug = index >= len(self.originals)
        view, pv = self.drawn_views(index)
        target = None if self.targets is None else self.targets[src]
        if target is not None and view.translation_words is not None:  # untagged: R2 (and R1) only
            target = torch.full((len(view.translation_words),), IGNORE, dtype=torch.long)
        item = {
            "id": index,
            "source": torch.tensor(view.ids, dtype=torch.long),
            "word_of_token": _word_map(view),
            "is_aug": is_aug,
            "lang": self.langs[src],
            "target": target,
            "teacher_logits": self._cached_teacher(src, is_aug, view.translation),
        }
        if pv is not None:
            item["partner"] = torch.tensor(pv.ids, dtype=torch.long)
            item["partner_word_of_token"] = _word_map(pv)
        return item

    def _cached_teacher(self, src, is_aug, translation):
        """The teacher's logits for this row's input when that input is fixed (the original, or a
        given translation) and cached; None when the teacher has to see it online (a re-sampled, switched
        or noised copy)."""
        cache = self.teacher_cache
        if cache is None:
            return None
        if not is_aug:
            return cache["original"][src]
        if translation is not None:
            return cache["translations"][int(cache["translation_first"][src]) + translation]
        return None

    def collater(self, samples: List[dict]) -> Batch:
        """The rows' Batch (core/batch.py); {} for no rows, as fairseq's empty batch."""
        if not samples:
            return {}
        src = [s["source"] for s in samples]
        batch = Batch(
            id=torch.tensor([s["id"] for s in samples]),
            nsentences=len(samples),
            ntokens=sum(int(t.numel()) for t in src),
            net_input=NetInput(
                src_tokens=data_utils.collate_tokens(src, self.pad_idx),
                src_lengths=torch.tensor([t.numel() for t in src]),
            ),
            is_aug=torch.tensor([s["is_aug"] for s in samples]),
            lang=torch.stack([s["lang"] for s in samples]),
        )
        cached = [s["teacher_logits"] is not None for s in samples]
        if any(cached):  # rows without a cached prediction are filled in by the teacher online
            like = next(s["teacher_logits"] for s in samples if s["teacher_logits"] is not None)
            batch["teacher_logits"] = torch.stack([like.new_zeros(like.shape) if s["teacher_logits"] is None
                                                   else s["teacher_logits"] for s in samples])
            batch["teacher_cached"] = torch.tensor(cached)
        if samples[0]["target"] is not None:
            targets = [s["target"] for s in samples]
            batch["target"] = torch.stack(targets) if targets[0].dim() == 0 else data_utils.collate_tokens(targets, IGNORE)
        if samples[0]["word_of_token"] is not None:
            batch["net_input"]["word_of_token"] = data_utils.collate_tokens([s["word_of_token"] for s in samples], NO_WORD)
        if "partner" in samples[0]:
            batch["partner"] = Partner(
                src_tokens=data_utils.collate_tokens([s["partner"] for s in samples], self.pad_idx),
            )
            if samples[0]["partner_word_of_token"] is not None:
                batch["partner"]["word_of_token"] = data_utils.collate_tokens(
                    [s["partner_word_of_token"] for s in samples], NO_WORD)
        return batch


def _word_map(view: View) -> Optional[torch.Tensor]:
    return None if view.word_of_token is None else torch.tensor(view.word_of_token, dtype=torch.long)

