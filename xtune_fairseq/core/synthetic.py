"""Generated multilingual data for tests and the tiny demo: three "languages" whose words
are translations of shared concepts, a sentiment-like label, and en-XX dictionaries.

Nothing here is real language; it exists so the whole pipeline runs in seconds with a
signal that cross-lingual methods can (and plain English fine-tuning cannot) transfer.
"""

import os
from typing import Dict, List

import numpy as np

LANGS = ("en", "de", "fr")
LABELS = ("positive", "negative", "neutral")
_SYLLABLES = {
    "en": ["ba", "te", "ri", "lo", "ku", "sam", "nel", "tor", "pi", "ga", "mo", "ven"],
    "de": ["sch", "ei", "ber", "ung", "kla", "tz", "ach", "rie", "mau", "gel", "stu", "dor"],
    "fr": ["eau", "oui", "ment", "lle", "cha", "rou", "jeu", "pré", "quoi", "vin", "mon", "bé"],
}


def _lexicon(seed: int, n_pos=12, n_neg=12, n_neu=100) -> Dict[str, Dict[str, List[str]]]:
    rng = np.random.default_rng(seed)
    kinds = ["pos"] * n_pos + ["neg"] * n_neg + ["neu"] * n_neu
    lex = {lang: {"pos": [], "neg": [], "neu": []} for lang in LANGS}
    for lang in LANGS:
        seen = set()
        for kind in kinds:
            while True:
                word = "".join(rng.choice(_SYLLABLES[lang], size=rng.integers(2, 4)))
                if word not in seen:
                    seen.add(word)
                    break
            lex[lang][kind].append(word)
    return lex


def _sentence(rng, lex_lang, label):
    words = [str(w) for w in rng.choice(lex_lang["neu"], size=rng.integers(6, 11))]
    if label != "neutral":  # same length for every label: only the words tell
        kind = "pos" if label == "positive" else "neg"
        for pos in rng.choice(len(words), size=int(rng.integers(1, 3)), replace=False):
            words[pos] = str(rng.choice(lex_lang[kind]))
    return words


def generate(out_dir: str, seed: int = 1, n_train: int = 600, n_eval: int = 150, pair: bool = False) -> Dict[str, str]:
    """Writes train/valid/test TSVs, translations.tsv, en-de.txt, en-fr.txt and corpus.txt."""
    os.makedirs(out_dir, exist_ok=True)
    lex = _lexicon(seed)
    rng = np.random.default_rng(seed + 1)
    index = {lang: {k: {w: i for i, w in enumerate(v)} for k, v in lex[lang].items()} for lang in LANGS}

    def translate(words, lang):
        out = []
        for w in words:
            kind = next(k for k in ("pos", "neg", "neu") if w in index["en"][k])
            out.append(lex[lang][kind][index["en"][kind][w]])
        return out

    def example(lang):
        label = str(rng.choice(LABELS))
        if not pair:
            return label, [" ".join(_sentence(rng, lex[lang], label))]
        a, b = (str(x) for x in rng.choice(LABELS[:2], size=2))
        return ("same" if a == b else "different"), [" ".join(_sentence(rng, lex[lang], a)), " ".join(_sentence(rng, lex[lang], b))]

    text_header = ["sentence1", "sentence2"] if pair else ["sentence"]
    paths = {}
    corpus = []
    translations = []
    for split, n in (("train", n_train), ("valid", n_eval // 3), ("test", n_eval)):
        rows = []
        for i in range(n):
            label, texts = example("en")
            ex_id = f"{split}-en-{i}"
            rows.append([ex_id, "en"] + texts + [label])
            corpus.extend(texts)
            for tl in LANGS[1:]:
                tr = [" ".join(translate(t.split(), tl)) for t in texts]
                corpus.extend(tr)
                if split == "train":  # translate-train file
                    translations.append([ex_id, tl] + tr)
                else:  # dev and test are parallel across languages, as XNLI's
                    rows.append([f"{split}-{tl}-{i}", tl] + tr + [label])
        paths[split] = _write_tsv(os.path.join(out_dir, f"{split}.tsv"), ["id", "lang"] + text_header + ["label"], rows)
    paths["translations"] = _write_tsv(os.path.join(out_dir, "translations.tsv"), ["id", "lang"] + text_header, translations)
    for lang in LANGS[1:]:
        path = os.path.join(out_dir, f"en-{lang}.txt")
        with open(path, "w", encoding="utf-8") as f:
            for kind in ("pos", "neg", "neu"):
                for i, w in enumerate(lex["en"][kind]):
                    if i % 5 == 4:  # a fifth of the words have no entry
                        continue
                    f.write(f"{w} {lex[lang][kind][i]}\n")
                    if i % 7 == 0:  # and some have a second candidate
                        f.write(f"{w}\t{lex[lang][kind][(i + 1) % len(lex[lang][kind])]}\n")
        paths[f"dict_{lang}"] = path
    paths["corpus"] = os.path.join(out_dir, "corpus.txt")
    with open(paths["corpus"], "w", encoding="utf-8") as f:
        f.write("\n".join(corpus) + "\n")
    return paths


def _write_tsv(path, header, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(header) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    return path


TAGS = {"pos": "B-GOOD", "neg": "B-BAD", "neu": "O"}


def generate_tagging(out_dir: str, seed: int = 1, n_train: int = 300, n_eval: int = 60) -> Dict[str, object]:
    """Tagging data over the same lexicon as generate(seed): every word tagged by its kind (B-GOOD,
    B-BAD, O). English train as CoNLL, dev/test in every language (de dev as word/TAG lines),
    translations.tsv of the training sentences."""
    os.makedirs(out_dir, exist_ok=True)
    lex = _lexicon(seed)
    kind_of = {lang: {w: k for k, ws in lex[lang].items() for w in ws} for lang in LANGS}
    rng = np.random.default_rng(seed + 7)
    files: Dict[str, Dict[str, str]] = {"train": {}, "valid": {}, "test": {}}
    translations = []
    for split, n in (("train", n_train), ("valid", n_eval // 3), ("test", n_eval)):
        sentences = {lang: [] for lang in LANGS}
        for i in range(n):
            en = _sentence(rng, lex["en"], str(rng.choice(LABELS)))
            for lang in LANGS:
                words = [lex[lang][kind_of["en"][w]][lex["en"][kind_of["en"][w]].index(w)] for w in en]
                sentences[lang].append([(w, TAGS[kind_of[lang][w]]) for w in words])
                if split == "train" and lang != "en":
                    translations.append([f"train-en-{i}", lang, " ".join(words)])
        for lang in (("en",) if split == "train" else LANGS):
            word_tag = split == "valid" and lang == "de"
            path = os.path.join(out_dir, f"{split}-{lang}.{'txt' if word_tag else 'conll'}")
            with open(path, "w", encoding="utf-8") as f:
                for sent in sentences[lang]:
                    if word_tag:
                        f.write(" ".join(f"{w}/{t}" for w, t in sent) + "\n")
                    else:
                        f.write("".join(f"{w}\t{t}\n" for w, t in sent) + "\n")
            files[split][lang] = path
    out: Dict[str, object] = dict(files)
    out["translations"] = _write_tsv(os.path.join(out_dir, "translations.tsv"), ["id", "lang", "sentence"], translations)
    return out
