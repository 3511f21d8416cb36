"""What the three xTune task kinds share: the flags of xTune's views (A, A*, A', their ratios, and
each augmentation's own flags from its module: core/augment/registry.py), the data order, the labels
and languages read from `xtune.json`, and building the model. `xtune_classification`,
`xtune_sequence_labeling` and `xtune_span_extraction` are siblings built on `XtuneTask`; each
adds only what its kind needs (its rows, its predictions, its head)."""

import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np
from fairseq.data import Dictionary, SortDataset, data_utils
from fairseq import models
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import FairseqTask
from omegaconf import II, MISSING, OmegaConf, open_dict

from xtune_fairseq.core.augment.code_switch import CodeSwitcher, dictionary_language, load_muse_dictionaries, unmatched
from xtune_fairseq.core.augment.registry import AUGMENTATIONS, flag_classes, get_augmentation
from xtune_fairseq.core.augment.subword_sampling import SubwordSampler
from xtune_fairseq.core.augment.views import ViewMaker
from xtune_fairseq.core.batch import Batch
from xtune_fairseq.core.consistency import masked_sum, symmetric_kl
from xtune_fairseq.fairseq_wiring.datasets.binarized_views import open_views
from xtune_fairseq.core.data.prepared import TASK_OF_KIND, TRANSLATIONS, meta_path, read_data_info, read_translation_table
from xtune_fairseq.core.data.views_layout import VIEW_SETTINGS, fingerprint
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.flag_ranges import check_ranges, check_train_config, warn_no_effect
from xtune_fairseq.core.text import TextEncoder

logger = logging.getLogger(__name__)


@dataclass
class _XtuneViewsConfig(FairseqDataclass):
    # fairseq's sentence_prediction flags the xTune tasks use (same names, defaults and order)
    data: str = field(default=MISSING, metadata={"help": "path to data directory"})
    num_classes: int = field(default=-1, metadata={"help": "number of classes or regression targets"})
    init_token: Optional[int] = field(default=0, metadata={"help": "token before each input (<s>)"})
    no_shuffle: bool = field(default=False)
    max_positions: int = field(default=512, metadata={"help": "max tokens per example"})
    seed: int = II("common.seed")
    # xTune's views
    data_augmentation: ChoiceEnum(AUGMENTATIONS) = field(
        default="none",
        metadata={"help": "A: augmentation whose copies of the training set are appended (stage 2's D_A); "
                  "none = train on D only (stage 1)"},
    )
    augmented_ratio: float = field(
        default=1.0, metadata={"help": "augmented copies per training example in D_A"}
    )
    r1_augmentation: ChoiceEnum(AUGMENTATIONS) = field(
        default="none",
        metadata={"help": "A* (stage 1) or A' (stage 2): the view each row is compared with by R1"},
    )


# Each augmentation's own flags (its `flags` dataclass: subword sampling, code-switch, Gaussian noise)
# follow A, A' and the ratio: a dataclass lists the fields of its bases last base first, hence reversed.
@dataclass
class XtuneTaskConfig(*reversed(flag_classes()), _XtuneViewsConfig):
    sort_by_length: bool = field(
        default=False,
        metadata={"help": "batch training rows of similar length (less padding, faster on CPU); batches are "
                  "still shuffled every epoch. Off: the exact order of fairseq's sentence_prediction"},
    )
    binarized_views: str = field(
        default="",
        metadata={"help": "NAME: read the training views of the first epochs from DATA/views/NAME (xtune-preprocess "
                  "views, drawn with this run's flags: refused otherwise); later epochs are drawn online"},
    )


class XtuneTask(FairseqTask):
    """A task whose training rows carry xTune's views. Subclasses set `kind` (the xtune.json kind
    they read) and define load_dataset, predictions, head_weight_key and register_heads."""

    kind: str = ""
    view_maker_class = ViewMaker  # what makes this kind's views from its examples (view_maker)

    def __init__(self, cfg, data_dictionary, label_dictionary, info):
        FairseqTask.__init__(self, cfg)
        self.dictionary, self._label_dictionary, self.info = data_dictionary, label_dictionary, info
        self.languages, self.label_names = list(info["languages"]), list(info["labels"])
        # made when first needed (_encoding, read_translations, _switcher, _sampler), then shared by A and A'
        self._shared_encoding: Optional[Tuple[TextEncoder, dict]] = None
        self._translation_table = self._code_switcher = self._subword_sampler = None
        self._switch_checked = False  # warn_unswitchable() has run
        # set by R2's teacher (teacher.py): the --teacher-path file and the --teacher-cache's record of its teacher
        self.teacher_checkpoint: Optional[str] = None
        self.teacher_cache_record: Optional[dict] = None

    # --- setup: flags, the data's kind and labels, the dictionaries -------------------------------

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        check_ranges(cfg)  # every numeric flag once, in all three tasks (flag_ranges.RANGES)
        if OmegaConf.is_config(cfg) and not kwargs.get("from_checkpoint"):
            check_train_config(cfg._get_root())  # --adam-betas before the optimizer eval()s it (hydra too)
        warn_no_effect(cfg)
        info = read_data_info(cfg.data)
        kind = info.get("kind", "classification")
        if kind != cls.kind:
            raise InputError(f"{cfg.data} holds {kind} data (xtune.json); --task {TASK_OF_KIND.get(kind, '?')} reads it")
        if cfg.binarized_views and kind == "qa":
            raise InputError("--binarized-views: span extraction re-windows every view, so its views are drawn online "
                             "only; leave the flag out")
        with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.nullcontext():
            if cfg.num_classes <= 0:
                cfg.num_classes = len(info["labels"])
        if cfg.num_classes != len(info["labels"]):
            raise InputError(f"--num-classes {cfg.num_classes} but {cfg.data} has labels {info['labels']}")
        data_dict, label_dict = cls.load_dictionaries(cfg, **kwargs)
        return cls(cfg, data_dict, label_dict, info)

    @classmethod
    def load_dictionaries(cls, cfg, **kwargs):
        """(input dictionary, label dictionary), read as fairseq's sentence_prediction reads them."""
        assert cfg.num_classes > 0, "Must set task.num_classes"
        data_dict = cls.load_dictionary(os.path.join(cfg.data, "input0", "dict.txt"))
        logger.info("[input] dictionary: {} types".format(len(data_dict)))
        label_dict = cls.load_dictionary(os.path.join(cfg.data, "label", "dict.txt"))
        logger.info("[label] dictionary: {} types".format(len(label_dict)))
        return data_dict, label_dict

    @classmethod
    def load_dictionary(cls, filename):
        dictionary = Dictionary.load(filename)
        dictionary.add_symbol("<mask>")
        return dictionary

    def max_positions(self):
        return self.cfg.max_positions

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    @property
    def label_dictionary(self):
        return self._label_dictionary

    # --- labels, languages, data order -------------------------------------------------------------

    def label_index(self, label: str) -> int:
        idx = self.label_dictionary.index(label)
        if idx == self.label_dictionary.unk():
            raise InputError(f"label {label!r} is not in {self.cfg.data}/label/dict.txt")
        return idx - self.label_dictionary.nspecial

    def language_index(self, lang: str) -> int:
        return self.languages.index(lang)

    def state_dict(self):  # in every checkpoint: what its head predicts, checked when read with other data
        return {**super().state_dict(), "labels": list(self.label_names)}

    def ordered(self, dataset):
        """A split's rows as fairseq gets them: the training rows read their first epochs' views from
        --binarized-views (the one place every kind's rows pass); in fairseq's sentence_prediction order,
        a permutation by seed; with --sort-by-length, rows of similar length batched together (batches
        are still shuffled every epoch)."""
        if self.cfg.binarized_views and any(getattr(dataset, m, None) is not None for m in ("augment", "partner")):
            self.read_binarized_views(dataset)  # dev and test rows have no views
        with data_utils.numpy_seed(self.cfg.seed):
            shuffle = np.random.permutation(len(dataset))
        order = [shuffle, dataset.sizes] if self.cfg.sort_by_length else [shuffle]
        return dataset if self.cfg.no_shuffle else SortDataset(dataset, sort_order=order)

    def views_fingerprint(self) -> dict:
        """Every flag and data file the training rows' drawn views depend on (views_layout)."""
        return fingerprint(self.kind, {n: getattr(self.cfg, n, None) for n in VIEW_SETTINGS}, self.cfg.data)

    def read_binarized_views(self, dataset) -> None:
        views = open_views(self.cfg.data, self.cfg.binarized_views, self.views_fingerprint(), dataset)
        dataset.read_views_from(views)
        logger.info("training views of epochs 1-%d read from %s", views.epochs, views.folder)

    def get_batch_iterator(self, dataset, **kwargs):
        """Dev and test batches of any size: fairseq's --required-batch-size-multiple (8 by default)
        drops the rows of a last batch beyond a multiple of it, so avg_acc would select checkpoints on
        part of the dev set. Training batches keep the flag."""
        if dataset is not self.datasets.get("train"):
            kwargs["required_batch_size_multiple"] = 1
        return super().get_batch_iterator(dataset, **kwargs)

    # --- xTune's views -------------------------------------------------------------------------------

    def uses_teacher_cache(self) -> bool:
        """Whether R2 reads the teacher's predictions of fixed inputs from --teacher-cache."""
        return False

    def _new_encoder(self) -> TextEncoder:
        return TextEncoder(self.source_dictionary.index, self.cfg.init_token, self.source_dictionary.eos(),
                           self.max_positions())

    def _encoding(self) -> Tuple[TextEncoder, dict]:
        """(the TextEncoder, a memo of words' best-segmentation ids): one of each, shared by A, A' and
        the tagging task's originals, so that each word is segmented once."""
        if self._shared_encoding is None:
            self._shared_encoding = (self._new_encoder(), {})
        return self._shared_encoding

    def view_maker(self, kind, examples):
        """The maker of augmentation `kind`'s views of these training examples; None where it makes none."""
        augmentation = get_augmentation(kind)
        if not augmentation.makes_views:
            return None
        sampler = self._sampler()
        encoder, word_ids = self._encoding()
        parts = augmentation.parts(self)  # what its views need (a switcher, translations), built once per task
        augmentation.check_examples(self, examples)
        maker = self.view_maker_class(kind, encoder, sampler, word_ids=word_ids, **parts)
        maker.check_covers([ex.id for ex in examples])
        return maker

    def warn_unswitchable(self, examples):
        """Once per task: a dictionary with no entry for any training word (e.g. a reversed one) switches nothing."""
        if self._switch_checked:
            return
        self._switch_checked = True
        paths = {dictionary_language(p): p for p in self.cfg.code_switch_dicts.split(",") if p}
        for lang in unmatched(self._switcher().dictionaries, (t for ex in examples for t in ex.texts)):
            logger.warning("%s: no entry matches a word of the training data, so code-switching into %s changes "
                           "nothing (a dictionary in the wrong direction?)", paths[lang], lang)

    def read_translations(self):
        """{training id: its translate-train rows}, read in the row shape of this task's kind; read
        once per task (A and A' share it: at XNLI's size the index takes about a minute to build)."""
        if self._translation_table is None:
            self._translation_table = read_translation_table(meta_path(self.cfg.data, TRANSLATIONS), self.kind)
        return self._translation_table

    def _switcher(self):  # A and A' share one (large dictionaries load once)
        if self._code_switcher is None:
            if not self.cfg.code_switch_dicts:
                raise InputError("--r1-augmentation/--data-augmentation cs needs --code-switch-dicts en-XX.txt,...")
            dicts = load_muse_dictionaries([p for p in self.cfg.code_switch_dicts.split(",") if p])
            # per-word tags need the word count kept: multi-word dictionary entries are skipped
            self._code_switcher = CodeSwitcher(dicts, self.cfg.code_switch_ratio, single_word_only=self.kind == "tagging")
        return self._code_switcher

    def _sampler(self):
        if self._subword_sampler is None:
            self._subword_sampler = SubwordSampler(os.path.join(self.cfg.data, "sentencepiece.bpe.model"),
                                                   self.cfg.subword_alpha, self.cfg.subword_nbest, self.cfg.subword_ratio)
        return self._subword_sampler

    # --- what the criterion asks of every kind -------------------------------------------------------

    @staticmethod
    def r1(logits_a, logits_b, valid_a, valid_b, sample: Batch, stop_gradient=True):
        """R1 summed over the items real in both views (aligned item by item), and their number."""
        both = valid_a & valid_b
        return masked_sum(symmetric_kl(logits_a, logits_b, stop_gradient=stop_gradient), both), both.sum()

    def f1_counts(self, logits, target, labelled):
        """(rows, 3) summable parts of the dev F1 that selects checkpoints, or None (accuracy)."""
        return None

    @staticmethod
    def kl_scale(n_labels: int, symmetric: bool) -> float:
        """The authors' KL unit per item: F.kl_div's default 'mean' also divides by the label count."""
        return 1.0 / n_labels

    # --- the model -------------------------------------------------------------------------------------

    def build_model(self, cfg, from_checkpoint=False):
        with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.nullcontext():
            if from_checkpoint:  # the checkpoint holds the weights and the encoder's shape
                cfg.pretrained_dir = None
            elif not getattr(cfg, "pretrained_dir", None):
                cfg.max_positions = self.cfg.max_positions
        model = models.build_model(cfg, self, from_checkpoint)
        model_max = model.encoder.max_positions()
        if self.cfg.max_positions > model_max:
            raise InputError(f"--max-positions {self.cfg.max_positions} exceeds the model's {model_max}")
        self.register_heads(model)
        return model

    def register_heads(self, model):
        raise NotImplementedError

    def head_weight_key(self) -> str:
        raise NotImplementedError
