"""`xtune_span_extraction`: extractive QA (SQuAD format: XQuAD, MLQA, TyDiQA-GoldP) with xTune's
views. A start/end head scores every token of a window `<s> question </s></s> context </s>`;
R1 compares the two views' start and end distributions on the positions both share (paper
3.3.2). Data comes from `xtune-preprocess --kind qa`."""

import logging
import os
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq.tasks import register_task

from xtune_fairseq.core.augment.registry import get_augmentation
from xtune_fairseq.core.batch import Batch
from xtune_fairseq.core.data.prepared import INFO, meta_path, read_qa_meta
from xtune_fairseq.fairseq_wiring.datasets.qa_views_dataset import QAViewsDataset
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.qa.consistency_masks import span_r1
from xtune_fairseq.core.qa.nbest import best_span_overlap
from xtune_fairseq.core.qa.views import QAViewMaker
from xtune_fairseq.core.qa.windows import INFO_KEY, N_SPECIALS, split_unspaced_of, word_split_of
from xtune_fairseq.fairseq_wiring.tasks.xtune_base import XtuneTask, XtuneTaskConfig

logger = logging.getLogger(__name__)

# finite, so that masked positions cannot leak NaN gradients, and representable in fp16
PAD_LOGIT = -1e4
SPAN_HEAD = "span_head"


@dataclass
class XtuneSpanExtractionConfig(XtuneTaskConfig):
    max_positions: int = field(default=384, metadata={"help": "tokens per window (the paper's max length for QA)"})
    doc_stride: int = field(default=128, metadata={"help": "context pieces between the starts of two windows"})
    max_query_length: int = field(default=64, metadata={"help": "question pieces kept (the rest is cut)"})
    max_answer_length: int = field(default=30, metadata={"help": "evaluation: longest answer, in tokens"})
    n_best_size: int = field(default=20, metadata={"help": "evaluation: start and end candidates per window"})


@register_task("xtune_span_extraction", dataclass=XtuneSpanExtractionConfig)
class XtuneSpanExtractionTask(XtuneTask):
    kind = "qa"

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        if get_augmentation(cfg.r1_augmentation).translates:
            raise InputError(f"--r1-augmentation {cfg.r1_augmentation}: a question and its translation have no common "
                             "positions to compare start/end distributions on (paper 3.3.2); use ss, cs or gn")
        if cfg.max_positions - cfg.max_query_length - N_SPECIALS <= 0:
            raise InputError(f"--max-positions {cfg.max_positions} leaves no room for context after "
                             f"--max-query-length {cfg.max_query_length} question pieces")
        return super().setup_task(cfg, **kwargs)

    def load_dataset(self, split, combine=False, **kwargs):
        examples = read_qa_meta(meta_path(self.cfg.data, split))
        training = split == "train"
        dataset = QAViewsDataset(
            examples, torch.tensor([self.language_index(ex.lang) for ex in examples]), self.qa_views("none").encode,
            self.source_dictionary.index, self.source_dictionary.pad(), self.cfg.seed,
            augment=self.view_maker(self.cfg.data_augmentation, examples) if training else None,
            augmented_ratio=self.cfg.augmented_ratio,
            partner=self.view_maker(self.cfg.r1_augmentation, examples) if training else None,
        )
        self.datasets[split] = self.ordered(dataset)
        logger.info("loaded %s: %d questions, %d windows, %d rows (%d augmented)", split, len(examples),
                    len(dataset.rows), len(dataset), len(dataset) - len(dataset.rows))
        return self.datasets[split]

    def qa_views(self, kind) -> QAViewMaker:
        """A QAViewMaker of augmentation `kind`, with what its views need (its parts: a switcher, translations)."""
        cfg, sampler = self.cfg, self._sampler()
        return QAViewMaker(kind, sampler, cfg.max_positions, cfg.doc_stride, cfg.max_query_length,
                           split_unspaced=split_unspaced_of(self.info, os.path.join(cfg.data, INFO)),
                           **get_augmentation(kind).parts(self))

    def state_dict(self):  # in every checkpoint: the words it was trained on (checked with other data)
        return {**super().state_dict(), INFO_KEY: word_split_of(self.info, os.path.join(self.cfg.data, INFO))}

    def view_maker(self, kind, examples):
        augmentation = get_augmentation(kind)
        if not augmentation.makes_views:
            return None
        maker = self.qa_views(kind)
        maker.check_covers(examples)
        augmentation.check_examples(self, examples)
        return maker

    def predictions(self, model, view: dict):
        """(rows, 2, positions) start and end logits, padding at PAD_LOGIT; both items always real."""
        tokens = view["src_tokens"]
        states, _ = model.token_states(tokens)
        logits = model.token_heads[SPAN_HEAD](states).transpose(1, 2)
        logits = logits.masked_fill(tokens.eq(self.source_dictionary.pad()).unsqueeze(1), PAD_LOGIT)
        return logits, torch.ones(logits.shape[:2], dtype=torch.bool, device=logits.device)

    def r1(self, logits_a, logits_b, valid_a, valid_b, sample: Batch, stop_gradient=True):
        """Span R1 per row: start and end distributions on the positions the two windows share
        (the collater's aligned lists), the rest of each side's mass in one extra bucket; summed over
        the rows, with their number (the authors divide it by the rows)."""
        partner, width = sample["partner"], logits_a.size(-1)
        pad = self.source_dictionary.pad()

        def mask(positions, keep):  # padded entries go to an extra column that is dropped
            cols = torch.where(keep, positions, torch.full_like(positions, width))
            out = torch.zeros(positions.size(0), width + 1, dtype=torch.bool, device=positions.device)
            return out.scatter_(1, cols, True)[:, :width]

        def padding(tokens):
            return F.pad(tokens.eq(pad), (0, width - tokens.size(1)), value=True)

        keep = partner["aligned_mask"]
        keep_a, keep_b = mask(partner["aligned_input"], keep), mask(partner["aligned_partner"], keep)
        r1 = span_r1(logits_a[:, 0], logits_a[:, 1], logits_b[:, 0], logits_b[:, 1], keep_a, keep_b,
                     padding(sample["net_input"]["src_tokens"]), padding(partner["src_tokens"]),
                     stop_gradient=stop_gradient)
        rows = (valid_a & valid_b).all(-1)
        return (r1 * rows).sum(), rows.sum()

    @staticmethod
    def kl_scale(n_labels: int, symmetric: bool) -> float:
        """The authors' QA KL sums over positions (no label division); R1's two directions are
        averaged, start and end added. R2's items are start and end, so its mean is their average."""
        return 0.5 if symmetric else 1.0

    def f1_counts(self, logits, target, labelled):
        """Token overlap of each window's best span with the gold span, for windows holding the answer."""
        holds = labelled.all(-1) & (target[:, 0] > 0)
        counts = best_span_overlap(logits[:, 0], logits[:, 1], target[:, 0], target[:, 1], self.cfg.max_answer_length)
        return counts * holds.unsqueeze(-1)

    def head_weight_key(self) -> str:
        return f"token_heads.{SPAN_HEAD}.out_proj.weight"

    def register_heads(self, model):
        model.register_token_head(SPAN_HEAD, len(self.label_names), dropout=0.0)  # the authors' QA head: a linear layer
