"""English -> Spanish machine translation of tokenised sentences with Debian's Apertium
(`apertium -u eng-spa`; `-u`: no '*' marks on unknown words), cached to a JSONL file.

Line alignment. Apertium is a stream translator: a single newline is only a blank to it, and its
transfer rules move words across it ("I saw the big\\nhouse" came out "Vi la casa\\ngrande"), so
one sentence a line keeps the line count but not the alignment. A blank line is a paragraph end,
where the text deformatter inserts a sentence boundary that no rule crosses. So sentences are
sent separated by blank lines, the output is cut at blank lines, and the number of pieces must
equal the number of sentences, else an InputError. Apertium capitalises the first word of each
paragraph; when the English sentence starts with a lower-case letter, the first letter of its
translation is lowered again. Empty sentences are not sent (their translation is []).

Special characters. Apertium's stream format gives `^ $ / < > { } [ ] \\ @ * #` meanings, but the
txt deformatter (the default `-f txt`) escapes them in the input and the reformatter restores
them, so they pass through (checked: `^ $ / < > { } [ ] \\ @ *` came back unchanged, alone and
inside words). Whitespace inside a word is turned into a plain space before translation (it could
otherwise add lines).

Input: the English words joined by spaces, except that Penn Treebank's clitic tokens (n't 's 're
've 'll 'd 'm) are glued back to the word before them: Apertium knows "doesn't" ("No significa")
but not "does n't" ("Él n't malo"). Detokenising everything with Moses gave translations of the
same quality otherwise, but lost a sentence-final '.' after abbreviations ("Ms.").
Output: split into words with sacremoses' MosesTokenizer(lang="es", escape=False) (a dependency of
the package already; the same tokenisation for every translation, punctuation split off).

Batches of at most `batch_size` sentences (fewer, so that every worker gets one) go to one
apertium process each, `workers` of them at once; one process translates ~600 sentences/s.
"""

import hashlib
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Sequence

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open

PAIR = "eng-spa"
INSTALL = "apt-get install apertium-eng-spa"
CACHE_FORMAT = "xtune-apertium-1"  # changes whenever the way translations are made changes


def _tokenizer():
    from sacremoses import MosesTokenizer  # late: slow to import

    return MosesTokenizer(lang="es")


def _install() -> None:
    """apt-get install of Apertium and its en->es pair where this process may (root, Debian/Ubuntu):
    the demos' set-up needs no manual step."""
    if shutil.which("apt-get") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    print("[setup] installing apertium-eng-spa with apt-get", flush=True)
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "apertium", "apertium-eng-spa"]):
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def _binary(apertium: str) -> str:
    path = shutil.which(apertium)
    if path is None and apertium == "apertium":
        _install()
        path = shutil.which(apertium)
    if path is None:
        raise InputError(f"the Apertium translator ({apertium!r}) is not installed; "
                         f"install it with `{INSTALL}`")
    return path


CLITICS = {"n't", "'s", "'re", "'ve", "'ll", "'d", "'m"}


def source_text(words: Sequence[str]) -> str:
    """The line Apertium gets for a tokenised English sentence (see the module docstring)."""
    out: List[str] = []
    for word in " ".join(str(w) for w in words).split():
        if out and word.lower() in CLITICS:
            out[-1] += word
        else:
            out.append(word)
    return " ".join(out)


def _translate_batch(binary: str, texts: List[str], pair: str) -> List[str]:
    proc = subprocess.run([binary, "-u", pair], input="\n\n".join(texts) + "\n",
                          capture_output=True, text=True, encoding="utf-8")
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout).strip()[-500:]
        hint = f" (is the language pair installed? `{INSTALL}`)" if pair not in _pairs(binary) else ""
        raise InputError(f"apertium -u {pair} failed with exit status {proc.returncode}{hint}: {err}")
    out = proc.stdout
    if out.endswith("\n"):
        out = out[:-1]
    pieces = out.split("\n\n")
    if len(pieces) != len(texts):
        raise InputError(f"apertium -u {pair}: {len(texts)} sentences in, {len(pieces)} out (separated by "
                         "blank lines); cannot align the translations with their sources")
    return [p.strip() for p in pieces]


def _pairs(binary: str) -> List[str]:
    proc = subprocess.run([binary, "-l"], capture_output=True, text=True)
    return proc.stdout.split()


def translate(sentences: Sequence[Sequence[str]], pair: str = PAIR, batch_size: int = 1000,
              workers: Optional[int] = None, apertium: str = "apertium") -> List[List[str]]:
    """Translates each sentence (a list of English words) with Apertium; returns one list of
    Spanish words per sentence, in order ([] for an empty sentence). workers: apertium processes
    at once (default: the CPU count, at most 8)."""
    workers = min(8, os.cpu_count() or 1) if workers is None else workers
    if batch_size < 1 or workers < 1:
        raise InputError(f"batch_size and workers must be positive, got {batch_size}, {workers}")
    binary = _binary(apertium)
    texts = [source_text(s) for s in sentences]
    todo = [i for i, t in enumerate(texts) if t]
    batch_size = max(1, min(batch_size, -(-len(todo) // workers)))
    batches = [todo[k:k + batch_size] for k in range(0, len(todo), batch_size)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda b: _translate_batch(binary, [texts[i] for i in b], pair), batches))
    tok = _tokenizer()
    out: List[List[str]] = [[] for _ in texts]
    for batch, translations in zip(batches, results):
        for i, target in zip(batch, translations):
            if texts[i][0].islower() and target[:1].isupper():
                target = target[0].lower() + target[1:]
            out[i] = tok.tokenize(target, escape=False) if target else []
    return out


def input_hash(sentences: Sequence[Sequence[str]], pair: str = PAIR) -> str:
    """What a cache file is valid for: the sentences, the language pair and the cache format."""
    h = hashlib.sha256(f"{CACHE_FORMAT}\n{pair}\n".encode("utf-8"))
    for s in sentences:
        h.update((json.dumps([str(w) for w in s], ensure_ascii=False) + "\n").encode("utf-8"))
    return h.hexdigest()


def _read_cache(path: str, digest: str, n: int) -> Optional[List[List[str]]]:
    """The cached translations if the file is for these sentences, else None."""
    try:
        with open(path, encoding="utf-8") as f:
            header = json.loads(f.readline())
            if not isinstance(header, dict) or header.get("input_sha256") != digest or header.get("n") != n:
                return None
            out = []
            for i, line in enumerate(f):
                row = json.loads(line)
                if row.get("id") != i or not isinstance(row.get("words"), list):
                    return None
                out.append(row["words"])
    except (OSError, ValueError, AttributeError):
        return None
    return out if len(out) == n else None


def translate_cached(sentences: Sequence[Sequence[str]], path: str, pair: str = PAIR, **kwargs) -> List[List[str]]:
    """translate(), kept in a JSONL file at path: a header line {"input_sha256", "n", "pair",
    "format"}, then {"id": i, "words": [...]} per sentence. Reused when its header matches these
    sentences; otherwise (re)made and written atomically."""
    sentences = [list(s) for s in sentences]
    digest = input_hash(sentences, pair)
    cached = _read_cache(path, digest, len(sentences)) if os.path.isfile(path) else None
    if cached is not None:
        return cached
    out = translate(sentences, pair=pair, **kwargs)
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"input_sha256": digest, "n": len(sentences), "pair": pair,
                            "format": CACHE_FORMAT}) + "\n")
        for i, words in enumerate(out):
            f.write(json.dumps({"id": i, "words": words}, ensure_ascii=False) + "\n")
    return out


def write_translation_tsv(ids: Sequence[str], sentences: Sequence[Sequence[str]], out_dir: str, name: str,
                          lang: str = "es") -> str:
    """translations-LANG.tsv (id, lang, sentence) with Apertium's translation of every sentence,
    the translations cached in NAME.mt.jsonl next to it; an empty translation is left out."""
    translated = translate_cached(sentences, os.path.join(out_dir, f"{name}.mt.jsonl"))
    path = os.path.join(out_dir, f"translations-{lang}.tsv")
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write("id\tlang\tsentence\n")
        f.writelines(f"{i}\t{lang}\t{' '.join(words)}\n" for i, words in zip(ids, translated) if words)
    return path
