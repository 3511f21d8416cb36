"""R-Drop's consistency (Liang et al., NeurIPS 2021) as an xTune view: the view is the example itself,
so R1 compares two forward passes of the same input that differ only by their dropout masks.

The criterion runs the input and its partner in one training-mode forward pass (two rows of one
batch), and dropout draws its mask per element, so the two rows of an example see different masks;
nothing skips a partner equal to its input. With --dropout 0 --attention-dropout 0 (and
--pooler-dropout 0 for classification) both passes are the same and R1 is 0.
"""

from xtune_fairseq.core.augment.registry import Augmentation, register_augmentation


@register_augmentation("dropout")
class Dropout(Augmentation):
    description = "dropout: the example itself, compared under another dropout mask (R-Drop)"

    def sentence_view(self, maker, example, orig, rng):
        return orig

    def words_view(self, maker, example, orig, rng):
        return orig

    def qa_view(self, maker, example, orig, rng):
        return orig
