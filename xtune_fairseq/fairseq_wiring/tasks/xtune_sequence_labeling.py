"""`xtune_sequence_labeling`: a tag per word (POS, NER) with xTune's views. Every view keeps the
word count, so R1 compares the two views word by word; translated sentences carry no tags and
contribute R1/R2 only. Data comes from `xtune-preprocess --kind tagging`."""

import logging
from dataclasses import dataclass, field

import torch
from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task

from xtune_fairseq.core.augment.views import TaggingViewMaker
from xtune_fairseq.fairseq_wiring.datasets.paired_views_dataset import ListViews, PairedViewsDataset, TargetRows
from xtune_fairseq.core.data.prepared import meta_path, read_tagged_rows
from xtune_fairseq.core.data.targets import IGNORE
from xtune_fairseq.core.metrics.entities import entity_counts, is_bio
from xtune_fairseq.fairseq_wiring.tasks.xtune_base import XtuneTask, XtuneTaskConfig
from xtune_fairseq.core.word_alignment import POOLING, pool_words

logger = logging.getLogger(__name__)


@dataclass
class XtuneSequenceLabelingConfig(XtuneTaskConfig):
    word_pooling: ChoiceEnum(POOLING) = field(
        default="first",
        metadata={"help": "word vector from its first subword (NER), the average of its subwords (the paper's POS) "
                  "or their sum (the authors' POS code)"},
    )
    token_head_name: str = field(default="token_classification_head", metadata={"help": "name of the tagging head"})


@register_task("xtune_sequence_labeling", dataclass=XtuneSequenceLabelingConfig)
class XtuneSequenceLabelingTask(XtuneTask):
    kind = "tagging"
    view_maker_class = TaggingViewMaker

    def load_dataset(self, split, combine=False, **kwargs):
        # rows, views and tags in flat buffers, which forked loader workers share (compact_rows)
        sentences = read_tagged_rows(meta_path(self.cfg.data, split))
        text_encoder, word_ids = self._encoding()
        encoder = TaggingViewMaker("none", text_encoder, self._sampler(), word_ids=word_ids)
        views = [encoder.encode_words(s.words, None, s.id) for s in sentences]
        originals = ListViews(views)
        # untagged test sentences (XTREME's test sets): IGNORE, predicted and never scored
        targets = TargetRows([[IGNORE] * len(s.words) if s.tags is None else [self.label_index(t) for t in s.tags]
                              for s in sentences])
        langs = torch.tensor([self.language_index(s.lang) for s in sentences])
        training = split == "train"
        dataset = PairedViewsDataset(
            originals, sentences, targets, langs, self.source_dictionary.pad(), self.cfg.seed,
            augment=self.view_maker(self.cfg.data_augmentation, sentences) if training else None,
            augmented_ratio=self.cfg.augmented_ratio,
            partner=self.view_maker(self.cfg.r1_augmentation, sentences) if training else None,
        )
        self.datasets[split] = self.ordered(dataset)
        cut = sum(1 for s, v in zip(sentences, views) if max(v.word_of_token) + 1 < len(s.words))
        logger.info("loaded %s: %d sentences, %d rows (%d augmented)%s", split, len(sentences), len(dataset),
                    len(dataset) - len(sentences),
                    f"; {cut} sentences longer than --max-positions lose their last words" if cut else "")
        return self.datasets[split]

    def predictions(self, model, view: dict):
        """(rows, words, tags) logits from pooled word vectors, and the mask of words that have tokens."""
        states, _ = model.token_states(view["src_tokens"])
        word_index = view["word_of_token"]
        n_words = max(int(word_index.max()) + 1, 1)
        words, valid = pool_words(states, word_index, n_words, self.cfg.word_pooling)
        return model.token_heads[self.cfg.token_head_name](words), valid

    def f1_counts(self, logits, target, labelled):
        """Entity counts (correct, predicted, gold) per sentence for BIO tag sets (NER), else None."""
        if not is_bio(self.label_names):
            return None
        names = self.label_names
        rows = []
        for pred, gold, keep in zip(logits.argmax(-1).tolist(), target.tolist(), labelled.tolist()):
            rows.append(entity_counts([names[g] for g, k in zip(gold, keep) if k],
                                      [names[p] for p, k in zip(pred, keep) if k]))
        return torch.tensor(rows, dtype=torch.long, device=logits.device).view(-1, 3)

    def head_weight_key(self) -> str:
        return f"token_heads.{self.cfg.token_head_name}.out_proj.weight"

    def register_heads(self, model):
        model.register_token_head(self.cfg.token_head_name, len(self.label_names))
