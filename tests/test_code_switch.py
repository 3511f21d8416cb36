"""Code-switch: the ratio holds, only dictionary words change, MUSE files are checked."""

import numpy as np
import pytest

from xtune_fairseq.core.augment.code_switch import CodeSwitcher, load_muse_dictionaries, load_muse_dictionary
from xtune_fairseq.core.errors import InputError


@pytest.fixture
def dicts(tmp_path):
    (tmp_path / "en-de.txt").write_text("good gut\ngood\tprima\nbad schlecht\nhouse haus\nvery good\tsehr gut\n")
    (tmp_path / "en-fr.txt").write_text("good bon\nbad mauvais\nhouse maison\n")
    return load_muse_dictionaries([str(tmp_path / "en-de.txt"), str(tmp_path / "en-fr.txt")])


def test_reads_several_candidates_and_tab_separated_phrases(dicts):
    assert dicts["de"]["good"] == ["gut", "prima"]
    assert dicts["de"]["very good"] == ["sehr gut"]
    assert sorted(dicts) == ["de", "fr"]


def test_ratio_within_tolerance_and_only_dictionary_words(dicts):
    switcher = CodeSwitcher(dicts, ratio=0.3)
    rng = np.random.default_rng(0)
    words = ["good", "bad", "house"] * 2000 + ["zebra"] * 1000
    out, switched = switcher(words, rng)
    in_dict = [i for i, w in enumerate(words) if w != "zebra"]
    rate = sum(switched[i] for i in in_dict) / len(in_dict)
    assert abs(rate - 0.3) < 0.02
    assert not any(switched[i] for i, w in enumerate(words) if w == "zebra")
    allowed = {w: set(dicts["de"].get(w, [])) | set(dicts["fr"].get(w, [])) for w in ("good", "bad", "house")}
    for w, o, s in zip(words, out, switched):
        assert (o in allowed[w]) if s else (o == w)
    assert {"de", "fr"} == {("de" if o in {"gut", "prima", "schlecht", "haus"} else "fr")
                            for o, s in zip(out, switched) if s}


def test_case_insensitive_lookup_keeps_punctuation(dicts):
    out, switched = CodeSwitcher({"fr": dicts["fr"]}, ratio=1.0)(["Good,", "(house)"], np.random.default_rng(0))
    assert out == ["bon,", "(maison)"] and all(switched)


def test_same_rng_same_switches(dicts):
    s = CodeSwitcher(dicts, ratio=0.5)
    words = ["good", "bad", "house"] * 20
    assert s(words, np.random.default_rng(7)) == s(words, np.random.default_rng(7))


def test_single_word_only_keeps_word_count(tmp_path):
    (tmp_path / "en-de.txt").write_text("good\tsehr gut\n")
    s = CodeSwitcher(load_muse_dictionaries([str(tmp_path / "en-de.txt")]), ratio=1.0, single_word_only=True)
    assert s(["good"], np.random.default_rng(0)) == (["good"], [False])


@pytest.mark.parametrize("content,where", [("", "is empty"), ("\n\n", "is empty"), ("good\n", ":1:"),
                                           ("good gut\nbad very bad thing\n", ":2:")])
def test_malformed_dictionaries_name_file_and_line(tmp_path, content, where):
    path = tmp_path / "en-de.txt"
    path.write_text(content)
    with pytest.raises(InputError, match=str(path).replace(".", r"\.") + ".*" if where == "is empty" else where) as e:
        load_muse_dictionary(str(path))
    assert str(path) in str(e.value)


def test_missing_dictionary_and_bad_name(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_muse_dictionary(str(tmp_path / "nope.txt"))
    (tmp_path / "dictionary.txt").write_text("a b\n")
    with pytest.raises(InputError, match="en-XX"):
        load_muse_dictionaries([str(tmp_path / "dictionary.txt")])


def test_two_dictionaries_into_one_language_are_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "en-de.txt").write_text("good gut\n")
    with pytest.raises(InputError, match="both dictionaries into 'de'") as e:
        load_muse_dictionaries([str(tmp_path / "a" / "en-de.txt"), str(tmp_path / "b" / "en-de.txt")])
    assert str(tmp_path / "a" / "en-de.txt") in str(e.value) and str(tmp_path / "b" / "en-de.txt") in str(e.value)
