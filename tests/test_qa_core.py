"""Span-extraction QA core: SQuAD reader, windows, n-best merge, metrics, span R1."""

import dataclasses
import json
import math
import os
import re

import numpy as np
import pytest
import torch

from xtune_fairseq.core.consistency import kl_from_log_probs
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.qa.consistency_masks import (
    aligned_positions, bucketed_log_probs, pair_windows, positions_mask, span_r1, unchanged_positions,
)
from xtune_fairseq.core.qa.metrics import (
    evaluate, exact_match, f1, mixed_segmentation, normalize_answer, normalize_answer_mlqa,
)
from xtune_fairseq.core.qa.nbest import best_answer, nbest_spans
from xtune_fairseq.core.qa.squad import QAExample, read_squad, write_predictions
from xtune_fairseq.core.qa.windows import (
    Word, is_max_context, make_windows, piece_spans, pieces_per_word, split_words,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "qa")


def chunk_pieces(word):
    """A stand-in for sentencepiece: runs of up to 3 word characters, punctuation alone."""
    pieces = re.findall(r"\w{1,3}|\W", word)
    return ["\u2581" + pieces[0]] + pieces[1:]


def one_piece(word):
    return ["\u2581" + word]


def fixture(lang):
    return read_squad(os.path.join(FIXTURES, f"{lang}.json"), lang)


def write(tmp_path, doc, raw=False):
    path = tmp_path / "f.json"
    path.write_text(doc if raw else json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return str(path)


def squad_doc(context="Ada was born in London.", qas=None):
    qas = qas if qas is not None else [
        {"id": "q1", "question": "Where?", "answers": [{"text": "London", "answer_start": 16}]}]
    return {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}


# ---------------------------------------------------------------- reader

def test_fixtures_read_with_languages_and_multiple_answers():
    en, de, zh = fixture("en"), fixture("de"), fixture("zh")
    assert (len(en), len(de), len(zh)) == (8, 5, 5)
    assert {e.lang for e in zh} == {"zh"}
    for ex in en + de + zh:
        for text, start in ex.answers:
            assert ex.context[start : start + len(text)] == text
    by_id = {e.id: e for e in en + de + zh}
    assert [t for t, _ in by_id["en-2"].answers] == ["38 metres", "38 metres tall"]
    assert [t for t, _ in by_id["zh-2"].answers] == ["云雾白", "“云雾白”"]


def test_reader_not_json_names_line_and_column(tmp_path):
    path = write(tmp_path, '{"data": [\n  {"title": "x",,}\n]}', raw=True)
    with pytest.raises(InputError, match=re.escape(f"{path}:2:") + r"\d+: not valid JSON"):
        read_squad(path, "en")


def test_reader_empty_file(tmp_path):
    with pytest.raises(InputError, match="empty file"):
        read_squad(write(tmp_path, "  \n", raw=True), "en")


def test_reader_no_questions(tmp_path):
    with pytest.raises(InputError, match=r"f\.json: no questions"):
        read_squad(write(tmp_path, {"data": []}), "en")


def test_reader_missing_key_names_json_path(tmp_path):
    doc = squad_doc(qas=[
        {"id": "q1", "question": "Where?", "answers": []},
        {"id": "q2", "answers": []},
    ])
    with pytest.raises(InputError, match=re.escape("data[0].paragraphs[0].qas[1]: missing key 'question'")):
        read_squad(write(tmp_path, doc), "en")
    with pytest.raises(InputError, match=re.escape("top level: missing key 'data'")):
        read_squad(write(tmp_path, {"version": "1.1"}), "en")


def test_reader_answer_start_must_be_int(tmp_path):
    doc = squad_doc(qas=[{"id": "q1", "question": "Where?", "answers": [{"text": "London", "answer_start": "16"}]}])
    with pytest.raises(InputError, match=re.escape('qas[0].answers[0].answer_start: expected int, got "16"')):
        read_squad(write(tmp_path, doc), "en")


def test_reader_answer_text_must_match_context(tmp_path):
    doc = squad_doc(qas=[{"id": "q1", "question": "Where?", "answers": [{"text": "London", "answer_start": 15}]}])
    with pytest.raises(InputError, match=re.escape(
            "data[0].paragraphs[0].qas[0].answers[0]: answer text 'London' is not context[15:21] = ' Londo'")):
        read_squad(write(tmp_path, doc), "en")


def test_reader_duplicate_ids(tmp_path):
    q = {"id": "q1", "question": "Where?", "answers": [{"text": "London", "answer_start": 16}]}
    with pytest.raises(InputError, match=re.escape("qas[1]: duplicate question id 'q1' (first at data[0].paragraphs[0].qas[0])")):
        read_squad(write(tmp_path, squad_doc(qas=[q, q])), "en")


def test_reader_training_needs_answers(tmp_path):
    path = write(tmp_path, squad_doc(qas=[{"id": "q1", "question": "Where?", "answers": []}]))
    assert read_squad(path, "en")[0].answers == ()
    with pytest.raises(InputError, match=re.escape("qas[0].answers: training questions need at least one answer")):
        read_squad(path, "en", require_answers=True)


def test_reader_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_squad(str(tmp_path / "nope.json"), "en")


def test_write_predictions_round_trip(tmp_path):
    path = tmp_path / "pred.json"
    write_predictions(str(path), {"zh-1": "种茶", "en-1": "Edith Marsh"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"zh-1": "种茶", "en-1": "Edith Marsh"}
    assert os.listdir(tmp_path) == ["pred.json"]


# ---------------------------------------------------------------- words and windows

def test_split_words_offsets_and_unspaced_scripts():
    for ex in fixture("en") + fixture("de") + fixture("zh"):
        for w in split_words(ex.context):
            assert ex.context[w.start : w.end] == w.text and not any(c.isspace() for c in w.text)
    # the default is the authors' split: whitespace only (xtune's squad.py), as transformers' tokenizer
    assert [w.text for w in split_words("在1935年 培育, ok")] == ["在1935年", "培育,", "ok"]
    # --qa-word-split character: every character of a script without spaces is a word
    assert [w.text for w in split_words("在1935年 培育, ok", True)] == ["在", "1935", "年", "培", "育", ",", "ok"]
    # Thai: the vowel and tone marks (U+0E35, U+0E48) stay on their consonant
    assert [w.text for w in split_words("ที่นี่", split_unspaced=True)] == ["ที่", "นี่"]


def test_piece_spans_exact_normalized_and_fallback():
    assert piece_spans(Word("Walk,", 10, 15), ["\u2581Wa", "lk", ","]) == [(10, 12), (12, 14), (14, 15)]
    # full-width letters: sentencepiece's NFKC pieces still map back to the original characters
    assert piece_spans(Word("ｆｕｌｌ", 0, 4), ["\u2581fu", "ll"]) == [(0, 2), (2, 4)]
    assert piece_spans(Word("ab", 3, 5), ["\u2581", "ab"]) == [(3, 3), (3, 5)]
    # a code-switched word (pieces of another word) or ids: the whole word's span
    assert piece_spans(Word("good", 0, 4), ["\u2581gu", "t"]) == [(0, 4), (0, 4)]
    assert piece_spans(Word("good", 0, 4), [17, 4]) == [(0, 4), (0, 4)]


def windows_for(ex, pieces_of, split_unspaced=False, **kw):
    words = split_words(ex.context, split_unspaced)
    text, start = ex.answers[0]
    question = [p for ps in pieces_per_word(split_words(ex.question, split_unspaced), pieces_of) for p in ps]
    return make_windows(0, question, words, pieces_per_word(words, pieces_of),
                        answer=(start, start + len(text)), **kw)


@pytest.mark.parametrize("split_unspaced", [False, True])
def test_answer_positions_map_back_to_answer_text(split_unspaced):
    """Exactly the answer where the pieces start and end with it; with the authors' split a Chinese
    piece may run past the answer (a sentence without spaces is one word): the tokens then cover it."""
    inside = outside = exact = 0
    for ex in fixture("en") + fixture("de") + fixture("zh"):
        for win in windows_for(ex, chunk_pieces, split_unspaced, max_length=32, doc_stride=8, max_query_length=10):
            assert len(win.tokens) <= 32
            if win.start_position == 0:
                outside += 1
                assert win.end_position == 0
                continue
            inside += 1
            s, e = win.token_to_char[win.start_position][0], win.token_to_char[win.end_position][1]
            assert ex.answers[0][0] in ex.context[s:e]
            exact += ex.context[s:e] == ex.answers[0][0]
            assert ex.context[s:e] == ex.answers[0][0] or (ex.lang == "zh" and not split_unspaced)
    assert inside >= 18 and outside > 0  # every question answered somewhere, long ones cut
    assert exact < inside if not split_unspaced else exact == inside


def test_window_layout_and_count_by_hand():
    ex = next(e for e in fixture("en") if e.id == "en-6")
    words = split_words(ex.context)
    assert len(words) == 115
    # question: 6 pieces, so 40 - 6 - 4 specials = 30 context tokens per window; starts
    # 0, 20, 40, 60, 80, 100 (100 + 15 reaches the end): 1 + ceil((115 - 30) / 20) = 6 windows
    wins = windows_for(ex, one_piece, max_length=40, doc_stride=20)
    assert [w.doc_start for w in wins] == [0, 20, 40, 60, 80, 100]
    assert [len(w.tokens) for w in wins] == [40] * 5 + [6 + 4 + 15]
    first = wins[0]
    assert first.tokens[0] == "<s>" and first.tokens[7:9] == ["</s>", "</s>"] and first.tokens[-1] == "</s>"
    assert first.context_start_in_tokens == 9 and first.tokens[9] == "\u2581The"
    assert first.token_to_char[:9] == [None] * 9 and first.token_to_char[-1] is None
    # "the Lantern Walk," are words 101..103: inside the windows starting at 80 and 100 only
    assert [(w.start_position, w.end_position) for w in wins] == [
        (0, 0), (0, 0), (0, 0), (0, 0), (101 - 80 + 9, 103 - 80 + 9), (101 - 100 + 9, 103 - 100 + 9)]


def toy_windows(answer=None):
    """Context "a b c d e f g h", one piece per word, windows of 4 pieces every 2."""
    words = split_words("a b c d e f g h")
    return make_windows(3, ["\u2581q"], words, pieces_per_word(words, one_piece), answer=answer,
                        max_length=1 + 4 + 4, doc_stride=2)


def test_partially_outside_answer_points_at_first_token():
    wins = toy_windows(answer=(6, 9))  # "d e": words 3 and 4
    assert [w.doc_start for w in wins] == [0, 2, 4]
    # window 0 holds d only, window 2 e only: both point at 0; window 1 holds d at 1 + 4
    assert [(w.start_position, w.end_position) for w in wins] == [(0, 0), (5, 6), (0, 0)]
    assert all(w.example_index == 3 for w in wins)


def test_max_context_by_hand():
    wins = toy_windows()
    spans = [(0, 4), (2, 4), (4, 4)]
    # c (2): min(2, 1) in window 0 beats min(0, 3); d (3): min(1, 2) in window 1 beats min(3, 0);
    # e (4): window 1 (min(2, 1)) over window 2 (min(0, 3)); f (5): window 2 (min(1, 2))
    best = {0: 0, 1: 0, 2: 0, 3: 1, 4: 1, 5: 2, 6: 2, 7: 2}
    for pos, n in best.items():
        assert [is_max_context(spans, i, pos) for i in range(3)] == [i == n for i in range(3)]
    # equal context on both sides (1): the longer window wins the tie
    assert [is_max_context([(0, 3), (0, 5)], i, 1) for i in range(2)] == [False, True]
    for n, w in enumerate(wins):
        ctx = w.context_start_in_tokens
        assert w.max_context[:ctx] == [False] * ctx
        assert [best[w.doc_start + i] == n for i in range(4)] == w.max_context[ctx : ctx + 4]


def test_question_truncated_and_no_room_is_an_error():
    words = split_words("a b")
    wins = make_windows(0, ["q"] * 10, words, [["a"], ["b"]], max_query_length=3)
    assert wins[0].tokens == ["<s>", "q", "q", "q", "</s>", "</s>", "a", "b", "</s>"]
    assert wins[0].start_position is None
    with pytest.raises(ValueError, match="no room"):
        make_windows(0, ["q"] * 3, words, [["a"], ["b"]], max_length=7)


# ---------------------------------------------------------------- n-best

def logits_for(wins, marks):
    """Start/end logit rows of -5, with {(window, token): (start, end)} set."""
    starts = [np.full(len(w.tokens) + 2, -5.0) for w in wins]  # +2: padding is ignored
    ends = [np.full(len(w.tokens) + 2, -5.0) for w in wins]
    for (n, t), (s, e) in marks.items():
        if s is not None:
            starts[n][t] = s
        if e is not None:
            ends[n][t] = e
    return starts, ends


def test_nbest_best_span_in_second_window():
    wins = toy_windows()
    context = "a b c d e f g h"
    # window 1 tokens: <s> q </s> </s> c d e f </s>; d = 5, e = 6
    # tokens 4..7 are a b c d in window 0, c d e f in window 1, e f g h in window 2
    starts, ends = logits_for(wins, {
        (0, 1): (9.0, 9.0),  # the question token: never an answer
        (0, 7): (3.0, None),  # d: its max context is window 1, so no start in window 0
        (0, 5): (2.0, None), (0, 6): (None, 2.0),  # "b c" = 4
        (1, 5): (4.0, None), (1, 6): (None, 3.0),  # "d e" = 7
        (2, 5): (1.0, None), (2, 6): (None, 1.0),  # "f g" = 2
    })
    spans = nbest_spans(context, wins, starts, ends, n_best_size=3)
    assert spans[0].text == "d e" and spans[0].score == pytest.approx(7.0) and spans[0].window == 1
    assert (spans[0].start_token, spans[0].end_token) == (5, 6)
    assert [(s.text, s.score, s.window) for s in spans] == [("d e", 7.0, 1), ("b c", 4.0, 0), ("f g", 2.0, 2)]
    assert best_answer(context, wins, starts, ends) == "d e"
    # at most one token: "d e" is too long; the best single token is d, 4 + (-5)
    assert best_answer(context, wins, starts, ends, max_answer_length=1) == "d"


def test_nbest_end_before_start_and_no_context():
    wins = toy_windows()[:1]  # <s> q </s> </s> a b c d </s>: b = 5, c = 6
    # start c + end b scores 10 but ends before it starts; start c + end c scores 5 + 1
    starts, ends = logits_for(wins, {(0, 6): (5.0, 1.0), (0, 5): (None, 5.0)})
    spans = nbest_spans("a b c d e f g h", wins, starts, ends, n_best_size=2)
    assert [(s.text, s.score) for s in spans] == [("c", 6.0)]
    blind = dataclasses.replace(wins[0], token_to_char=[None] * len(wins[0].tokens))
    assert best_answer("a b c d e f g h", [blind], starts, ends) == ""


# ---------------------------------------------------------------- metrics

def test_squad_normalization_em_f1_by_hand():
    assert normalize_answer("The  Cat, sat!") == "cat sat"
    assert exact_match("the Eiffel Tower", "Eiffel tower.") == 1.0
    # "cat sat on mat" vs "cat on mat": 3 common, P = 3/4, R = 1, F1 = 1.5 / 1.75 = 6/7
    assert f1("the cat sat on the mat", "a cat on a mat") == pytest.approx(6 / 7)
    # counts with multiplicity: red x2 blue vs red blue x2 share 2 tokens; P = R = 2/3
    assert f1("red red blue", "red blue blue") == pytest.approx(2 / 3)
    assert f1("", "") == 0.0 and exact_match("", "the") == 1.0


def test_evaluate_max_over_answers_and_missing_predictions():
    exs = [
        QAExample("1", "en", "q", "c", (("Paris", 0), ("the city of Paris", 0))),
        QAExample("2", "en", "q", "c", (("blue whale", 0),)),
        QAExample("3", "en", "q", "c", (("1871", 0),)),
    ]
    # 1: EM 1 (first answer); 2: "whale" vs "blue whale": P 1, R 1/2, F1 2/3; 3: missing -> 0
    got = evaluate({"1": "paris", "2": "whale", "other": "x"}, exs)
    assert got["n"] == 3
    assert got["exact_match"] == pytest.approx(100 / 3)
    assert got["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)


def test_mlqa_chinese_character_level_f1():
    assert mixed_segmentation("2008年奥运会 in Beijing") == ["2008", "年", "奥", "运", "会", "in", "Beijing"]
    assert exact_match("北京大学", "北京大学。", "zh", mlqa=True) == 1.0
    # pred 北京大学图书馆 (7 characters), gold 大学图书馆员 (6): 5 common,
    # P = 5/7, R = 5/6, F1 = 2 * 25/42 / (65/42) = 10/13; SQuAD's whitespace tokens give 0
    assert f1("北京大学图书馆", "大学图书馆员", "zh", mlqa=True) == pytest.approx(10 / 13)
    assert f1("北京大学图书馆", "大学图书馆员") == 0.0


def test_mlqa_articles_and_unicode_punctuation():
    assert normalize_answer_mlqa("Der Hund, den ich sah", "de") == "hund ich sah"
    assert exact_match("der Hund", "Hund", "de", mlqa=True) == 1.0
    assert exact_match("der Hund", "Hund") == 0.0  # SQuAD removes English articles only
    assert normalize_answer_mlqa("Einstein", "de") == "einstein"  # whole words only
    assert exact_match("la casa blanca", "Casa Blanca", "es", mlqa=True) == 1.0
    assert exact_match("la casa blanca", "Casa Blanca", "en", mlqa=True) == 0.0
    assert exact_match("«hola»", "hola", "es", mlqa=True) == 1.0  # « » are Unicode punctuation
    assert exact_match("«hola»", "hola") == 0.0
    assert normalize_answer_mlqa("الكتاب", "ar") == "كتاب"
    assert normalize_answer_mlqa("những cái bàn", "vi") == "bàn"
    # es: "el perro grande" vs "perro": articles go, P = 1/2, R = 1, F1 = 2/3
    assert f1("el perro grande", "perro", "es", mlqa=True) == pytest.approx(2 / 3)
    with pytest.raises(InputError, match="no rules for language 'th'"):
        normalize_answer_mlqa("x", "th")


# ---------------------------------------------------------------- span R1

def test_unchanged_positions_matches_loop():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n_words = int(rng.integers(1, 12))
        changed = (rng.random(n_words) < 0.4).tolist()
        t2w = [None] * int(rng.integers(1, 5)) + sorted(rng.integers(0, n_words, int(rng.integers(0, 20))).tolist()) + [None]
        expected = [i == 0 or (w is not None and not changed[w]) for i, w in enumerate(t2w)]
        assert unchanged_positions(t2w, changed).tolist() == expected


def two_views():
    """View A: chunk_pieces; view B: words 2, 5 and 9 resampled into single characters and a
    longer question, so the windows of the two views start at different words."""
    words = split_words("alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima")
    changed_b = [i in (2, 5, 9) for i in range(len(words))]
    pieces_a = pieces_per_word(words, chunk_pieces)
    pieces_b = [["\u2581" + w.text[0]] + list(w.text[1:]) if c else p for w, c, p in zip(words, changed_b, pieces_a)]
    wins_a = make_windows(0, ["\u2581q"] * 3, words, pieces_a, max_length=16, doc_stride=4)
    wins_b = make_windows(0, ["\u2581q"] * 5, words, pieces_b, max_length=16, doc_stride=4)
    return words, [False] * len(words), changed_b, wins_a, wins_b


def test_aligned_positions_pair_identical_unchanged_tokens():
    words, changed_a, changed_b, wins_a, wins_b = two_views()
    pairs = 0
    for wa in wins_a:
        for wb in wins_b:
            ia, ib = aligned_positions(wa.token_to_word, wa.token_piece_in_word, changed_a,
                                       wb.token_to_word, wb.token_piece_in_word, changed_b)
            assert ia[0] == 0 and ib[0] == 0 and len(ia) == len(ib)
            assert torch.all(ia[1:] > ia[:-1]) and torch.all(ib[1:] > ib[:-1])
            got = set(zip(ia.tolist()[1:], ib.tolist()[1:]))
            expected = {(i, j) for i, wi in enumerate(wa.token_to_word) for j, wj in enumerate(wb.token_to_word)
                        if wi is not None and wi == wj and not changed_b[wi]
                        and wa.token_piece_in_word[i] == wb.token_piece_in_word[j]}
            assert got == expected
            for i, j in got:
                assert wa.tokens[i] == wb.tokens[j] and wa.token_to_char[i] == wb.token_to_char[j]
            pairs += len(got)
            keep = positions_mask(ia, len(wa.tokens))
            assert keep.sum() == len(ia) and keep[ia].all()
    assert pairs > 30


def test_pair_windows_picks_most_shared_tokens():
    words, changed_a, changed_b, wins_a, wins_b = two_views()
    assert (len(wins_a), len(wins_b)) == (6, 9)  # view B has 5 more question and 9 more context pieces

    def shared(wa, wb):
        return len(aligned_positions(wa.token_to_word, wa.token_piece_in_word, changed_a,
                                     wb.token_to_word, wb.token_piece_in_word, changed_b)[0]) - 1

    partners = pair_windows(wins_a, changed_a, wins_b, changed_b)
    for wa, n in zip(wins_a, partners):
        best = max(shared(wa, wb) for wb in wins_b)
        assert (n is None and best == 0) or (n is not None and shared(wa, wins_b[n]) == best > 0)
    assert partners[0] == 0 and None not in partners


def direct_bucket(logits, keep, pad):
    """Softmax over non-padding positions, kept ones in order, then the sum of the rest."""
    z = [math.exp(v) for v, p in zip(logits, pad) if not p]
    total = sum(z)
    probs = [math.exp(v) / total if not p else 0.0 for v, p in zip(logits, pad)]
    kept = [q for q, k, p in zip(probs, keep, pad) if k and not p]
    return kept + [sum(q for q, k, p in zip(probs, keep, pad) if not k and not p)]


def direct_sym_kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q) if a > 0) + sum(b * math.log(b / a) for a, b in zip(p, q) if b > 0)


@pytest.fixture
def span_batch():
    g = torch.Generator().manual_seed(0)
    start_a, end_a = torch.randn(2, 7, generator=g) * 2, torch.randn(2, 7, generator=g) * 2
    start_b, end_b = torch.randn(2, 9, generator=g) * 2, torch.randn(2, 9, generator=g) * 2
    keep_a = torch.tensor([[1, 0, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0]], dtype=torch.bool)
    # row 1 of b also keeps position 7, which is padding: it does not count
    keep_b = torch.tensor([[1, 0, 0, 1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 1, 0, 0, 1, 0]], dtype=torch.bool)
    pad_a = torch.tensor([[0] * 7, [0] * 5 + [1] * 2], dtype=torch.bool)
    pad_b = torch.tensor([[0] * 8 + [1], [0] * 7 + [1] * 2], dtype=torch.bool)
    return start_a, end_a, start_b, end_b, keep_a, keep_b, pad_a, pad_b


def test_bucketed_log_probs_sum_to_one_and_match_direct(span_batch):
    start_a, _, _, _, keep_a, _, pad_a, _ = span_batch
    out = bucketed_log_probs(start_a, keep_a, pad_a)
    assert out.shape == (2, 3 + 1) and out.dtype == torch.float32
    assert torch.allclose(out.exp().sum(-1), torch.ones(2), atol=1e-6)
    for row in range(2):
        expected = direct_bucket(start_a[row].tolist(), keep_a[row].tolist(), pad_a[row].tolist())
        got = out[row].exp().tolist()
        kept = expected[:-1]
        assert got[: len(kept)] == pytest.approx(kept, abs=1e-6) and got[-1] == pytest.approx(expected[-1], abs=1e-6)
        assert got[len(kept) : -1] == [0.0] * (3 - len(kept))  # -inf filler
    one = bucketed_log_probs(start_a[0], keep_a[0], pad_a[0])
    assert torch.allclose(one, out[0])


def test_bucket_without_rest_is_minus_inf_with_finite_gradients():
    logits = torch.tensor([[1.0, 2.0, 0.5, 3.0]], requires_grad=True)
    keep = torch.tensor([[True, True, True, False]])
    pad = torch.tensor([[False, False, False, True]])
    out = bucketed_log_probs(logits, keep, pad)
    assert out[0, -1] == float("-inf") and out.exp().sum().item() == pytest.approx(1.0)
    other = torch.tensor([[0.0, 1.0, 2.0, 5.0]], requires_grad=True)
    span_r1(logits, logits, other, other, keep, keep, pad, pad, stop_gradient=False).sum().backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[0, 3] == 0
    assert torch.isfinite(other.grad).all() and other.grad[0, 3] == 0


def test_span_r1_matches_direct_formula(span_batch):
    start_a, end_a, start_b, end_b, keep_a, keep_b, pad_a, pad_b = span_batch
    got = span_r1(start_a, end_a, start_b, end_b, keep_a, keep_b, pad_a, pad_b)
    assert got.shape == (2,) and got.dtype == torch.float32
    for row in range(2):
        def dist(x, k, p):
            return direct_bucket(x[row].tolist(), k[row].tolist(), p[row].tolist())
        expected = (direct_sym_kl(dist(start_a, keep_a, pad_a), dist(start_b, keep_b, pad_b))
                    + direct_sym_kl(dist(end_a, keep_a, pad_a), dist(end_b, keep_b, pad_b)))
        assert got[row].item() == pytest.approx(expected, rel=1e-5)
    same = span_r1(start_a, end_a, start_a, end_a, keep_a, keep_a, pad_a, pad_a)
    assert torch.allclose(same, torch.zeros(2), atol=1e-6)


def test_span_r1_stop_gradient(span_batch):
    start_a0, end_a0, start_b, end_b, keep_a, keep_b, pad_a, pad_b = span_batch
    start_a, end_a = start_a0.clone().requires_grad_(), end_a0.clone().requires_grad_()
    span_r1(start_a, end_a, start_b, end_b, keep_a, keep_b, pad_a, pad_b).sum().backward()
    # with stop-gradient, A only receives the gradient of KL(sg(B) || A)
    ref_start, ref_end = start_a0.clone().requires_grad_(), end_a0.clone().requires_grad_()
    const_b = [bucketed_log_probs(x, keep_b, pad_b).detach() for x in (start_b, end_b)]
    (kl_from_log_probs(const_b[0], bucketed_log_probs(ref_start, keep_a, pad_a))
     + kl_from_log_probs(const_b[1], bucketed_log_probs(ref_end, keep_a, pad_a))).sum().backward()
    assert torch.allclose(start_a.grad, ref_start.grad, atol=1e-6)
    assert torch.allclose(end_a.grad, ref_end.grad, atol=1e-6)
    assert start_a.grad[1, 5:].abs().sum() == 0  # padding gets nothing
    # without stop-gradient, KL(A || B) also sends a gradient into A
    full_a = start_a0.clone().requires_grad_()
    span_r1(full_a, end_a0, start_b, end_b, keep_a, keep_b, pad_a, pad_b, stop_gradient=False).sum().backward()
    assert not torch.allclose(full_a.grad, start_a.grad, atol=1e-4)


def test_span_r1_needs_equal_kept_counts(span_batch):
    start_a, end_a, start_b, end_b, keep_a, keep_b, pad_a, pad_b = span_batch
    keep_b = keep_b.clone()
    keep_b[0, 6] = True
    with pytest.raises(ValueError, match="different numbers of positions"):
        span_r1(start_a, end_a, start_b, end_b, keep_a, keep_b, pad_a, pad_b)


def test_span_r1_on_real_windows():
    """End to end on two augmented views: aligned masks, equal counts, zero for equal logits."""
    words, changed_a, changed_b, wins_a, wins_b = two_views()
    wa = wins_a[1]
    wb = wins_b[pair_windows([wa], changed_a, wins_b, changed_b)[0]]
    ia, ib = aligned_positions(wa.token_to_word, wa.token_piece_in_word, changed_a,
                               wb.token_to_word, wb.token_piece_in_word, changed_b)
    keep_a = positions_mask(ia, len(wa.tokens)).unsqueeze(0)
    keep_b = positions_mask(ib, len(wb.tokens)).unsqueeze(0)
    # logits that only depend on the token identity agree on every aligned position
    score = {tok: float(i % 7) for i, tok in enumerate(sorted(set(wa.tokens) | set(wb.tokens), key=str))}
    la = torch.tensor([[score[t] for t in wa.tokens]])
    lb = torch.tensor([[score[t] for t in wb.tokens]])
    r1 = span_r1(la, la, lb, lb, keep_a, keep_b)
    assert r1.shape == (1,) and torch.isfinite(r1).all()
    pa, pb = bucketed_log_probs(la, keep_a).exp(), bucketed_log_probs(lb, keep_b).exp()
    assert pa.shape == pb.shape
