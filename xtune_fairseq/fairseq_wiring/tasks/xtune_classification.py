"""`xtune_classification`: sentence(-pair) classification whose training rows carry the
views xTune needs (XNLI / PAWS-X shape). Data comes from `xtune-preprocess`."""

import logging
import os
from dataclasses import dataclass, field
from typing import Optional

import torch
from fairseq.data import ConcatSentencesDataset, PrependTokenDataset, data_utils
from fairseq.data.shorten_dataset import maybe_shorten_dataset
from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task
from fairseq.tasks.sentence_prediction import SentencePredictionConfig, SentencePredictionTask

from xtune_fairseq.fairseq_wiring.datasets.paired_views_dataset import PairedViewsDataset, TokenViews
from xtune_fairseq.core.data.prepared import meta_path, read_example_rows
from xtune_fairseq.core.data.targets import IGNORE
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.fairseq_wiring.tasks.xtune_base import XtuneTask, XtuneTaskConfig
from xtune_fairseq.core.text import TextEncoder
from xtune_fairseq.fairseq_wiring.teacher import load_teacher_cache

logger = logging.getLogger(__name__)


@dataclass
class XtuneClassificationConfig(XtuneTaskConfig, SentencePredictionConfig):
    """sentence_prediction's flags (in their order) with xTune's defaults, the shared xTune flags,
    and what only sentence classification has: the pair separator and the teacher cache."""
    separator_token: Optional[int] = field(default=2, metadata={"help": "token between a sentence pair (</s>)"})
    shorten_method: ChoiceEnum(["none", "truncate", "random_crop"]) = field(
        default="truncate", metadata={"help": "how inputs longer than --max-positions are cut"}
    )
    teacher_cache: str = field(
        default="",
        metadata={"help": "R2 targets of fixed inputs (originals, translations) from xtune-teacher-cache: "
                  "the teacher then runs only for re-sampled or noised rows"},
    )


@register_task("xtune_classification", dataclass=XtuneClassificationConfig)
class XtuneClassificationTask(XtuneTask, SentencePredictionTask):
    kind = "classification"

    @classmethod
    def load_dictionaries(cls, cfg, **kwargs):
        base = SentencePredictionTask.setup_task(cfg, **kwargs)
        return base.dictionary, base.label_dictionary

    def load_dataset(self, split, combine=False, **kwargs):
        def load(key):
            path = os.path.join(self.cfg.data, key, split)
            return data_utils.load_indexed_dataset(path, self.source_dictionary, combine=combine)

        input0 = load("input0")
        if input0 is None:
            raise InputError(f"{os.path.join(self.cfg.data, 'input0', split)}.bin: split {split!r} not found")
        src_tokens = PrependTokenDataset(input0, self.cfg.init_token)
        if self.info["sentence_pair"]:
            src_tokens = ConcatSentencesDataset(src_tokens, PrependTokenDataset(load("input1"), self.cfg.separator_token))
        src_tokens = maybe_shorten_dataset(
            src_tokens, split, self.cfg.shorten_data_split_list, self.cfg.shorten_method,
            self.max_positions(), self.cfg.seed,
        )
        examples = read_example_rows(meta_path(self.cfg.data, split))  # flat: shared by forked loader workers
        if len(examples) != len(src_tokens):
            raise InputError(f"{self.cfg.data}: meta/{split}.jsonl has {len(examples)} rows, input0/{split} "
                             f"{len(src_tokens)}: rerun xtune-preprocess")
        # a test set without labels (XTREME's): IGNORE, predicted and never scored (evaluation/predictions.py)
        targets = torch.tensor([IGNORE if ex.label is None else self.label_index(ex.label) for ex in examples])
        langs = torch.tensor([self.language_index(ex.lang) for ex in examples])
        training = split == "train"
        augment = self.view_maker(self.cfg.data_augmentation, examples) if training else None
        partner = self.view_maker(self.cfg.r1_augmentation, examples) if training else None
        cache = self._teacher_cache(examples) if training and self.cfg.teacher_cache else None
        dataset = PairedViewsDataset(
            TokenViews(src_tokens), examples, targets, langs, self.source_dictionary.pad(), self.cfg.seed,
            augment=augment, augmented_ratio=self.cfg.augmented_ratio, partner=partner, teacher_cache=cache,
        )
        self.datasets[split] = self.ordered(dataset)
        logger.info("loaded %s: %d rows (%d augmented)", split, len(dataset), len(dataset) - len(examples))
        return self.datasets[split]

    def _new_encoder(self):
        return TextEncoder(self.source_dictionary.index, self.cfg.init_token, self.source_dictionary.eos(),
                           self.max_positions(), sep=self.cfg.separator_token)

    def predictions(self, model, view: dict):
        """(rows, 1, labels) logits, one item per row, and its mask (all real)."""
        logits = model(view["src_tokens"], features_only=True,
                       classification_head_name=self.cfg.classification_head_name)[0]
        return logits.unsqueeze(1), torch.ones(logits.shape[:1] + (1,), dtype=torch.bool, device=logits.device)

    def teacher_logits(self, model, seqs, batch_size: int) -> torch.Tensor:
        """(rows, labels) float logits of `model` on token sequences without views (the teacher
        cache's fixed inputs), in batches of batch_size."""
        out = []
        with torch.inference_mode():
            for i in range(0, len(seqs), batch_size):
                tokens = data_utils.collate_tokens(seqs[i:i + batch_size], self.source_dictionary.pad())
                out.append(model(tokens, classification_head_name=self.cfg.classification_head_name)[0].float())
        return torch.cat(out) if out else torch.zeros(0, self.cfg.num_classes)

    def head_weight_key(self) -> str:
        return f"classification_heads.{self.cfg.classification_head_name}.out_proj.weight"

    def uses_teacher_cache(self) -> bool:
        return bool(self.cfg.teacher_cache)

    def _teacher_cache(self, examples):
        return load_teacher_cache(self.cfg.teacher_cache, self, examples)

    def register_heads(self, model):
        model.register_classification_head(self.cfg.classification_head_name, num_classes=self.cfg.num_classes)
