"""The data writers, as a library with plain Python APIs (the commands in cli/ only parse flags and
call them): a prepared data directory per task kind (classification.py, tagging.py, qa.py), from
XTREME's downloads (xtreme.py), binarized views (views.py), the tiny model and its data
(tiny_model.py), the teacher cache (teacher_cache.py). torch and fairseq load only when a writer
needs them."""

from xtune_fairseq.prepare.classification import preprocess, write_classification
from xtune_fairseq.prepare.qa import preprocess_qa, write_qa
from xtune_fairseq.prepare.tagging import preprocess_tagging, write_tagging
from xtune_fairseq.prepare.teacher_cache import build_cache, write_cache
from xtune_fairseq.prepare.tiny_model import build_tiny_model, make_tiny_model, write_generated
from xtune_fairseq.prepare.views import write_binarized_views
from xtune_fairseq.prepare.xtreme import preprocess_xtreme

__all__ = [
    "build_cache", "build_tiny_model", "make_tiny_model", "preprocess", "preprocess_qa", "preprocess_tagging",
    "preprocess_xtreme", "write_binarized_views", "write_cache", "write_classification", "write_generated",
    "write_qa", "write_tagging",
]
