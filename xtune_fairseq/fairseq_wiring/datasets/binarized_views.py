"""Binarized views (layout and fingerprint: views_layout): the writer draws each epoch's views with
the training dataset's own `drawn_views`, the very code a run draws them with online, and stores
them in fairseq indexed datasets; the reader gives a row's stored view back by row index.

MT views (fixed inputs: `stores_choice`) are not stored per epoch: every translation is binarized once
(with the view maker itself), and an epoch stores which translation each row drew."""

import logging
import multiprocessing
import os
import signal

import numpy as np
import torch
from fairseq.data import indexed_dataset

from xtune_fairseq.fairseq_wiring.datasets.view_rows import INPUT_STREAM, PARTNER_STREAM
from xtune_fairseq.core.data.views_layout import (
    AUGMENTED, PARTNER, check_fingerprint, read_views_info, role_prefix, stores_choice, translations_prefix, views_dir,
)
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.progress import progress

logger = logging.getLogger(__name__)
ROLE_OF_STREAM = {INPUT_STREAM: AUGMENTED, PARTNER_STREAM: PARTNER}
WORDS_DTYPE = np.int16  # word index per token, -1 for none (sentences have far fewer than 32k words)


def _files(prefix: str, kind: str, word_maps: bool):
    if stores_choice(kind):
        return [prefix + ".translation.npy"]
    exts = (".bin", ".idx") + ((".words.bin", ".words.idx") if word_maps else ())
    return [prefix + e for e in exts]


class BinarizedViews:
    """The stored views of a training set's first `epochs` epochs (views.json's `info`)."""

    def __init__(self, folder: str, info: dict):
        self.folder, self.epochs, self.roles = folder, info["epochs"], dict(info["roles"])
        self.n_original, self.word_maps = info["original_rows"], info["word_maps"]
        self._open, self._open_epoch, self._told = {}, None, False
        needed = [f for e in range(1, self.epochs + 1) for role, kind in self.roles.items()
                  for f in _files(role_prefix(folder, e, role), kind, self.word_maps)]
        if any(stores_choice(k) for k in self.roles.values()):
            fixed = translations_prefix(folder)
            needed += [fixed + ".first.npy"] + _files(fixed, "", self.word_maps)
        missing = [f for f in needed if not os.path.isfile(f)]
        if missing:
            raise InputError(f"{missing[0]} not found: {folder} is incomplete; rewrite it with xtune-preprocess views")
        for f in needed:  # refused here, before training, rather than by the first batch that reads it
            if f.endswith(".npy"):
                load_npy(f, mmap_mode="r")

    def __getstate__(self):  # data-loader workers open their own memory maps
        return {**self.__dict__, "_open": {}, "_open_epoch": None}

    def note_epoch(self, epoch: int) -> None:
        if epoch > self.epochs and not self._told:
            self._told = True
            logger.info("epoch %d: %s holds the views of %d epochs; drawing views online from here on",
                        epoch, self.folder, self.epochs)

    def read(self, epoch: int, stream: int, index: int, src: int):
        """(ids, word map or None, translation k or None) of row `index`'s view in `stream`, or None
        when not stored (an epoch beyond the stored ones, or a kind that reuses the original)."""
        role = ROLE_OF_STREAM[stream]
        if epoch > self.epochs or role not in self.roles:
            return None
        if epoch != self._open_epoch:  # one epoch's maps open at a time: earlier epochs are done
            self._open, self._open_epoch = {}, epoch
        at = index - self.n_original if role == AUGMENTED else index
        if not stores_choice(self.roles[role]):
            return (*self._row(role_prefix(self.folder, epoch, role), at), None)
        k = int(self._file(role_prefix(self.folder, epoch, role) + ".translation.npy")[at])
        if k < 0:
            return None
        first = self._file(translations_prefix(self.folder) + ".first.npy")
        return (*self._row(translations_prefix(self.folder), int(first[src]) + k), k)

    def _row(self, prefix: str, row: int):
        ids = self._file(prefix)[row].tolist()
        return ids, self._file(prefix + ".words")[row].tolist() if self.word_maps else None

    def _file(self, path: str):
        if path not in self._open:
            self._open[path] = load_npy(path, mmap_mode="r") if path.endswith(".npy") \
                else indexed_dataset.MMapIndexedDataset(path)
        return self._open[path]


def load_npy(path: str, mmap_mode=None) -> np.ndarray:
    """A 1-d integer array of a views folder (.npy). Never unpickled (allow_pickle=False: a pickle can run
    code); anything else, pickled objects included, is an InputError naming the file."""
    try:
        array = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        pickled = "pickle" in str(e) or "Python objects" in str(e)
        reason = "it holds pickled Python objects, which are never loaded (they can run code)" if pickled else str(e)
        raise InputError(f"{path}: refused to load: {reason}; expected a numpy array of integers written by "
                         "xtune-preprocess views (rewrite the folder with it)") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "iu" or array.ndim != 1:
        what = f"a {array.ndim}-d {array.dtype} array" if isinstance(array, np.ndarray) else type(array).__name__
        raise InputError(f"{path}: {what}; expected a 1-d numpy array of integers written by xtune-preprocess views "
                         "(rewrite the folder with it)")
    return array


def open_views(data_dir: str, name: str, expected: dict, dataset) -> BinarizedViews:
    """DATA/views/NAME for these training rows, refused unless drawn with the fingerprint `expected`."""
    folder = views_dir(data_dir, name)
    info = read_views_info(folder)
    check_fingerprint(folder, info["fingerprint"], expected)
    if (info["rows"], info["original_rows"]) != (len(dataset), dataset.n_original):
        raise InputError(f"{folder}: views of {info['rows']} rows, this run has {len(dataset)}; rewrite them")
    return BinarizedViews(folder, info)


# --- writing ------------------------------------------------------------------------------------

def stored_roles(dataset) -> dict:
    """{role: kind} of the training rows' views worth storing (sampled or tokenized)."""
    makers = {AUGMENTED: dataset.augment, PARTNER: dataset.partner}
    return {role: str(m.kind) for role, m in makers.items() if m is not None and m.augmentation.storable}


class _Chosen:
    """A generator stand-in that makes Translations.draw pick translation k (to binarize them all)."""

    def __init__(self, k: int):
        self.k = k

    def integers(self, n):
        return self.k


class _RoleWriter:
    def __init__(self, prefix: str, kind: str, vocab_size: int, word_maps: bool, translations=None):
        self.prefix, self.kind, self.translations = prefix, kind, translations
        self.chosen, self.ids, self.words = [], None, None
        if not stores_choice(kind):
            self.ids = indexed_dataset.make_builder(prefix + ".bin", "mmap", vocab_size=vocab_size)
            if word_maps:
                self.words = indexed_dataset.MMapIndexedDatasetBuilder(prefix + ".words.bin", dtype=WORDS_DTYPE)

    def add(self, view, src: int) -> None:
        if stores_choice(self.kind):
            k = -1 if view.translation is None else view.translation
            if k >= 0 and self.translations.read_translation(src, k) != view.ids:
                raise RuntimeError(f"{self.prefix}: row of example {src}: translation {k} differs from its stored view")
            self.chosen.append(k)
            return
        self.ids.add_item(torch.tensor(view.ids, dtype=torch.long))
        if self.words is not None:
            self.words.add_item(torch.tensor(view.word_of_token, dtype=torch.long))

    def finish(self) -> None:
        if stores_choice(self.kind):
            np.save(self.prefix + ".translation.npy", np.array(self.chosen, dtype=np.int32))
            return
        self.ids.finalize(self.prefix + ".idx")
        if self.words is not None:
            self.words.finalize(self.prefix + ".words.idx")


class _Translations:
    def __init__(self, folder):
        self.prefix = translations_prefix(folder)
        self.first = load_npy(self.prefix + ".first.npy")
        self.ids = indexed_dataset.MMapIndexedDataset(self.prefix)

    def read_translation(self, src: int, k: int):
        return self.ids[int(self.first[src]) + k].tolist()


def write_translations(dataset, maker, folder: str, vocab_size: int, word_maps: bool) -> None:
    """Every translation of every training example as its MT view, once, by example then k."""
    prefix = translations_prefix(folder)
    out = _RoleWriter(prefix, "", vocab_size, word_maps)
    first, row = np.full(len(dataset.examples), -1, dtype=np.int64), 0
    for src, example in enumerate(dataset.examples):
        if example.id not in maker.translations:
            continue
        first[src] = row
        for k in range(len(maker.translations[example.id])):
            out.add(maker(example, None, _Chosen(k)), src)
            row += 1
    out.finish()
    np.save(prefix + ".first.npy", first)


def write_epoch(dataset, folder: str, epoch: int, roles: dict, vocab_size: int, word_maps: bool) -> None:
    """One epoch's stored views, drawn by dataset.drawn_views for every row."""
    os.makedirs(os.path.join(folder, f"epoch{epoch}"))
    translations = _Translations(folder) if any(stores_choice(k) for k in roles.values()) else None
    writers = {role: _RoleWriter(role_prefix(folder, epoch, role), kind, vocab_size, word_maps, translations)
               for role, kind in roles.items()}
    dataset.set_epoch(epoch)
    for index in progress(range(len(dataset)), f"[preprocess] views epoch {epoch}: drew"):
        view, partner = dataset.drawn_views(index)
        src = dataset.source_index(index)
        if AUGMENTED in writers and index >= dataset.n_original:
            writers[AUGMENTED].add(view, src)
        if PARTNER in writers:
            writers[PARTNER].add(partner, src)
    for w in writers.values():
        w.finish()


_JOB = None  # what forked epoch workers inherit


def _epoch_job(epoch):
    write_epoch(*_JOB[:2], epoch, *_JOB[2:])


def _worker_signals():
    """Workers leave Ctrl-C to the parent (which removes the half-written folder) and end quietly
    when it ends them; forked, they would inherit the CLI's SIGTERM -> KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def write_views(dataset, folder: str, epochs: int, vocab_size: int, workers: int = 1) -> dict:
    """Draws and binarizes the views of epochs 1..epochs into folder; returns the roles stored.
    Epochs are independent (views come from seed, epoch, row, stream): workers draw them side by side."""
    global _JOB
    roles = stored_roles(dataset)
    word_maps = len(dataset.originals) > 0 and dataset.originals[0].word_of_token is not None
    mt = [m for m in (dataset.augment, dataset.partner) if m is not None and m.augmentation.fixed_input]
    if mt:
        write_translations(dataset, mt[0], folder, vocab_size, word_maps)
    if workers <= 1 or epochs == 1:
        for epoch in range(1, epochs + 1):
            write_epoch(dataset, folder, epoch, roles, vocab_size, word_maps)
    else:
        _JOB = (dataset, folder, roles, vocab_size, word_maps)
        pool = multiprocessing.get_context("fork").Pool(min(workers, epochs), initializer=_worker_signals)
        try:
            pool.map(_epoch_job, range(1, epochs + 1))
            pool.close()
        finally:
            pool.terminate()
            pool.join()
            _JOB = None
    return {"roles": roles, "word_maps": word_maps}
