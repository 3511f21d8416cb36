"""Model conversion: a HuggingFace XLM-R directory against a direct numpy forward pass,
vocabulary trimming, and the E5S1 reader's dequantisation."""

import json
import math
import os
import struct

import numpy as np
import pytest
import sentencepiece as spm
import torch

from xtune_fairseq.convert.e5s1 import dequantize_q4_0
from xtune_fairseq.core.errors import InputError

H, L, HEADS, FF = 32, 2, 4, 64


def hf_tiny_dir(tmp_path, sp_model):
    """A tiny checkpoint in xlm-roberta-base's layout, with random weights."""
    from safetensors.numpy import save_file

    sp = spm.SentencePieceProcessor(model_file=sp_model)
    vocab = sp.get_piece_size() + 1 + 1  # 4 specials + pieces from id 3 + <mask>
    rng = np.random.default_rng(0)

    def r(*shape, scale=0.2):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    t = {"roberta.embeddings.word_embeddings.weight": r(vocab, H),
         "roberta.embeddings.position_embeddings.weight": r(514, H),
         "roberta.embeddings.token_type_embeddings.weight": r(1, H),
         "roberta.embeddings.LayerNorm.weight": 1 + r(H), "roberta.embeddings.LayerNorm.bias": r(H)}
    for i in range(L):
        p = f"roberta.encoder.layer.{i}."
        for name, (o, n) in {"attention.self.query": (H, H), "attention.self.key": (H, H),
                             "attention.self.value": (H, H), "attention.output.dense": (H, H),
                             "intermediate.dense": (FF, H), "output.dense": (H, FF)}.items():
            t[p + name + ".weight"], t[p + name + ".bias"] = r(o, n), r(o)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[p + name + ".weight"], t[p + name + ".bias"] = 1 + r(H), r(H)
    d = tmp_path / "hf"
    d.mkdir()
    save_file(t, str(d / "model.safetensors"))
    (d / "config.json").write_text(json.dumps({
        "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": HEADS, "intermediate_size": FF,
        "max_position_embeddings": 514, "vocab_size": vocab, "hidden_act": "gelu", "layer_norm_eps": 1e-5}))
    (d / "sentencepiece.bpe.model").write_bytes(open(sp_model, "rb").read())
    return str(d), {k[len("roberta."):]: v for k, v in t.items()}


def numpy_bert(t, ids):
    """HF XLM-R forward written out: positions from padding_idx + 1, post-LayerNorm, exact gelu."""
    def ln(x, w, b):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * w + b

    def lin(x, name):
        return x @ t[name + ".weight"].T + t[name + ".bias"]

    gelu = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))
    n = len(ids)
    x = t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][2:2 + n] \
        + t["embeddings.token_type_embeddings.weight"][0]
    x = ln(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
    hd = H // HEADS
    for i in range(L):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(x, p + f"attention.self.{m}").reshape(n, HEADS, hd).transpose(1, 0, 2)
                   for m in ("query", "key", "value"))
        a = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        a = np.exp(a - a.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        ctx = (a @ v).transpose(1, 0, 2).reshape(n, H)
        x = ln(x + lin(ctx, p + "attention.output.dense"), t[p + "attention.output.LayerNorm.weight"],
               t[p + "attention.output.LayerNorm.bias"])
        ff = lin(gelu(lin(x, p + "intermediate.dense")), p + "output.dense")
        x = ln(x + ff, t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"])
    return x


def fairseq_features(model_dir, text):
    from fairseq.models.roberta import XLMRModel

    from xtune_fairseq.fairseq_wiring.install import install

    install()  # what --user-dir user_dir does: the allow-list, fairseq's reader checked

    hub = XLMRModel.from_pretrained(model_dir, checkpoint_file="model.pt", bpe="sentencepiece").eval()
    ids = hub.encode(text)
    with torch.no_grad():
        return ids.tolist(), hub.extract_features(ids)[0].numpy()


def test_hf_checkpoint_matches_a_direct_forward_pass(spm_model, tmp_path):
    from xtune_fairseq.convert.hf_xlmr import convert_hf_xlmr

    hf_dir, t = hf_tiny_dir(tmp_path, spm_model["model"])
    out = convert_hf_xlmr(hf_dir, str(tmp_path / "converted"))
    assert sorted(os.listdir(out)) == ["dict.txt", "model.pt", "sentencepiece.bpe.model", "xtune-model.json"]
    text = open(spm_model["train"]).read().splitlines()[1].split("\t")[2]
    ids, ours = fairseq_features(out, text)
    sp = spm.SentencePieceProcessor(model_file=spm_model["model"])
    assert ids == [0] + [i + 1 for i in sp.encode(text)] + [2]  # fairseq id = sentencepiece id + 1
    np.testing.assert_allclose(ours, numpy_bert(t, ids), atol=2e-4)


def test_hf_dir_missing_weights(spm_model, tmp_path):
    from xtune_fairseq.convert.hf_xlmr import convert_hf_xlmr

    hf_dir, _ = hf_tiny_dir(tmp_path, spm_model["model"])
    os.remove(os.path.join(hf_dir, "model.safetensors"))
    with pytest.raises(InputError, match="neither model.safetensors nor pytorch_model.bin"):
        convert_hf_xlmr(hf_dir, str(tmp_path / "out"))


def test_trimming_keeps_predictions_on_covered_text(tiny, tmp_path):
    from xtune_fairseq.convert.trim import trim_model_dir

    lines = open(tiny["corpus"]).read().splitlines()
    covered = lines[:20]
    # a sentencepiece model whose vocabulary is mostly outside 20 sentences: use a larger one
    stats = trim_model_dir(tiny["model"], str(tmp_path / "trimmed"), covered)
    assert stats["rows_after"] == stats["pieces_after"] + 5
    for text in covered[:5]:
        full_ids, full = fairseq_features(tiny["model"], text)
        trim_ids, trimmed = fairseq_features(str(tmp_path / "trimmed"), text)
        assert 3 not in trim_ids  # no <unk> on covered text
        np.testing.assert_allclose(full, trimmed, atol=1e-5)


def test_trimming_drops_unused_pieces(spm_model, tmp_path):
    from xtune_fairseq.prepare import build_tiny_model
    from xtune_fairseq.convert.trim import trim_model_dir

    model = build_tiny_model(str(tmp_path / "m"), spm_model["corpus"], vocab_size=300)
    stats = trim_model_dir(model, str(tmp_path / "t"), ["nelbate"])
    assert stats["pieces_after"] < stats["pieces_before"] / 3


def test_q4_dequantisation_against_a_hand_made_block():
    scale = np.float16(0.5)
    nibbles = list(range(16)) + list(range(15, -1, -1))  # weights 0..31
    qs = bytes((nibbles[j] & 0xF) | (nibbles[j + 16] << 4) for j in range(16))
    raw = struct.pack("<e", scale) + qs
    out = dequantize_q4_0(raw, 1, 32)
    np.testing.assert_array_equal(out[0], (np.array(nibbles, dtype=np.float32) - 8) * 0.5)
