"""Input files that used to pass silently or fail late: language codes, labels, BOMs, -DOCSTART-,
invisible sentences, dictionaries in the wrong direction, broken model files, refused checkpoints."""

import os
import shutil

import pytest
import torch

from conftest import fairseq_train, train_args
from xtune_fairseq.core.augment.code_switch import load_muse_dictionaries, load_muse_dictionary
from xtune_fairseq.core.data.readers import LanguageCodes, read_classification_tsv
from xtune_fairseq.core.data.tagged import read_tagged
from xtune_fairseq.core.errors import InputError

HEADER = "id\tlang\tsentence\tlabel\n"


def write(tmp_path, text, name="train.tsv", encoding="utf-8"):
    p = tmp_path / name
    p.write_text(text, encoding=encoding)
    return str(p)


# --- language codes ---------------------------------------------------------------------------

def test_empty_language_code_names_file_and_line(tmp_path):
    with pytest.raises(InputError, match=r"train\.tsv:3: empty language code"):
        read_classification_tsv(write(tmp_path, HEADER + "1\ten\ta\tpos\n2\t \tb\tneg\n"))


def test_language_codes_differing_in_case_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"train\.tsv:3: language 'EN' differs only in case from 'en' "
                                         r"\(.*train\.tsv:2\)"):
        read_classification_tsv(write(tmp_path, HEADER + "1\ten\ta\tpos\n2\tEN\tb\tneg\n"))
    codes = LanguageCodes()  # across the files of one preprocessing run
    read_classification_tsv(write(tmp_path, HEADER + "1\tde\ta\tpos\n"), languages=codes)
    with pytest.raises(InputError, match=r"dev\.tsv:2: language 'De' differs only in case from 'de'"):
        read_classification_tsv(write(tmp_path, HEADER + "1\tDe\ta\tpos\n", "dev.tsv"), languages=codes)


def test_tagging_language_case_variants_are_refused(tiny, tmp_path):
    from xtune_fairseq.prepare import preprocess_tagging

    train = write(tmp_path, "The\tDET\ncat\tNOUN\n", "a.conll")
    dev = write(tmp_path, "The\tDET\n", "b.conll")
    with pytest.raises(InputError, match=r"b\.conll: language 'EN' differs only in case from 'en' \(.*a\.conll\)"):
        preprocess_tagging(tiny["model"], str(tmp_path / "bin"), [("en", train)], [("EN", dev)])


# --- labels -----------------------------------------------------------------------------------

@pytest.mark.parametrize("label,message", [
    ("very good", "train.tsv:2: label 'very good' contains whitespace; labels must be single tokens"),
    ("<pad>", "train.tsv:2: label '<pad>' is one of fairseq's special symbols"),
    ("</s>", "train.tsv:2: label '</s>' is one of fairseq's special symbols"),
])
def test_labels_that_would_fail_in_training_are_refused(tmp_path, label, message):
    with pytest.raises(InputError) as err:
        read_classification_tsv(write(tmp_path, HEADER + f"1\ten\ta\t{label}\n"))
    assert message in str(err.value)


@pytest.mark.parametrize("text,message", [
    ("The\tDET\ncat\t<unk>\n", ":2: tag '<unk>' is one of fairseq's special symbols"),
    ("The\tDET\ncat\tB PER\n", ":2: tag 'B PER' contains whitespace"),
    ("The/DET cat/<s>\n", ":1: tag '<s>' is one of fairseq's special symbols"),
])
def test_tags_that_would_fail_in_training_are_refused(tmp_path, text, message):
    with pytest.raises(InputError) as err:
        read_tagged(write(tmp_path, text, "a.txt"), "en")
    assert message in str(err.value)


# --- byte order marks -------------------------------------------------------------------------

def test_bom_is_accepted_in_tsv_conll_and_dictionaries(tmp_path):
    rows = read_classification_tsv(write(tmp_path, HEADER + "1\ten\ta\tpos\n", encoding="utf-8-sig"))
    assert rows[0].id == "1"
    conll = read_tagged(write(tmp_path, "The\tDET\n", "a.conll", encoding="utf-8-sig"), "en")
    assert conll[0].words == ("The",)
    table = load_muse_dictionary(write(tmp_path, "good gut\nbad schlecht\n", "en-de.txt", encoding="utf-8-sig"))
    assert table == {"good": ["gut"], "bad": ["schlecht"]}


# --- dictionaries -----------------------------------------------------------------------------

def test_dictionary_in_the_wrong_direction_is_refused(tmp_path):
    path = write(tmp_path, "gut good\n", "de-en.txt")
    with pytest.raises(InputError, match=r"de-en\.txt: dictionary file names must look like en-XX\.txt"):
        load_muse_dictionaries([path])


def test_muse_file_names_with_ranges(tmp_path):
    path = write(tmp_path, "good gut\n", "en-de.0-5000.txt")
    assert list(load_muse_dictionaries([path])) == ["de"]


# --- CoNLL and invisible text -----------------------------------------------------------------

def test_docstart_lines_are_skipped(tmp_path):
    text = "-DOCSTART- -X- O O\n\nEU\tB-ORG\nrejects\tO\n\n-DOCSTART-\tO\n\nPeter\tB-PER\n"
    sentences = read_tagged(write(tmp_path, text, "a.conll"), "en")
    assert [s.words for s in sentences] == [("EU", "rejects"), ("Peter",)]


def test_zero_width_sentence_is_empty(tmp_path):
    with pytest.raises(InputError, match=r"train\.tsv:2: empty sentence"):
        read_classification_tsv(write(tmp_path, HEADER + "1\ten\t\u200b\u200d\ufeff\tpos\n"))
    with pytest.raises(InputError, match=r"a\.conll:2: expected 'word<TAB>tag'"):
        read_tagged(write(tmp_path, "The\tDET\n\u200b\tNOUN\n", "a.conll"), "en")


# --- model directories ------------------------------------------------------------------------

def broken_copy(tiny, tmp_path, name, content):
    model = tmp_path / "model"
    shutil.copytree(tiny["model"], model)
    (model / name).write_bytes(content)
    return str(model)


def test_garbage_sentencepiece_model_is_one_line(tiny, tmp_path):
    from xtune_fairseq.core.augment.subword_sampling import SubwordSampler
    from xtune_fairseq.core.xlmr_dir import check_model_dir

    model = broken_copy(tiny, tmp_path, "sentencepiece.bpe.model", b"not a model")
    sp = os.path.join(model, "sentencepiece.bpe.model")
    with pytest.raises(InputError, match=f"{sp}: not a sentencepiece model"):
        check_model_dir(model)
    with pytest.raises(InputError, match=f"{sp}: not a sentencepiece model"):
        SubwordSampler(sp)


@pytest.mark.parametrize("content,message", [
    (b"\xe2\x96\x81a 1\nbroken\n", "dict.txt:2: expected '<piece> <count>', got 'broken'"),
    (b"\xe2\x96\x81a 1\nb x\n", "dict.txt:2: expected '<piece> <count>', got 'b x'"),
    (b"\xe2\x96\x81a 1\nb 1\n\xe2\x96\x81a 3\n", "dict.txt:3: duplicate entry '\u2581a' (first at line 1)"),
    (b"<unk> 1\n", "dict.txt:1: duplicate entry '<unk>' (fairseq adds <s>, <pad>, </s>, <unk> itself)"),
])
def test_malformed_dict_txt_names_file_and_line(tiny, tmp_path, content, message):
    from xtune_fairseq.core.xlmr_dir import check_model_dir

    model = broken_copy(tiny, tmp_path, "dict.txt", content)
    with pytest.raises(InputError) as err:
        check_model_dir(model)
    assert os.path.join(model, message) in str(err.value)


# --- refused checkpoints ----------------------------------------------------------------------

class Payload:
    def __reduce__(self):
        return (print, ("payload ran",))


def evil_checkpoint(path):
    torch.save({"model": {}, "extra": Payload()}, str(path))
    return str(path)


def test_fairseq_loader_refusal_is_an_input_error(tiny, tmp_path):
    from fairseq import checkpoint_utils

    from xtune_fairseq.fairseq_wiring.install import install

    install()  # what --user-dir user_dir runs (importing register alone changes nothing in fairseq)
    path = evil_checkpoint(tmp_path / "evil.pt")
    with pytest.raises(InputError, match=f"{path}: refused to load"):  # --finetune-from-model's loader too
        checkpoint_utils.load_checkpoint_to_cpu(path)


def test_retrieval_of_a_pretrained_dir_with_a_refused_checkpoint(tiny, tmp_path):
    from xtune_fairseq.evaluation import load_encoder

    model = tmp_path / "model"
    shutil.copytree(tiny["model"], model)
    evil_checkpoint(model / "model.pt")
    with pytest.raises(InputError, match="model.pt: refused to load"):
        load_encoder(str(model))


def test_restore_file_refusal_is_one_line(tiny, tmp_path):
    path = evil_checkpoint(tmp_path / "evil.pt")
    code, out = fairseq_train(train_args(tiny, tmp_path / "ck", "--restore-file", path, "--max-update", "1"),
                              check=False)
    assert code != 0 and f"error: {path}: refused to load" in out, out[-3000:]
    assert "Traceback" not in out and "payload ran" not in out
