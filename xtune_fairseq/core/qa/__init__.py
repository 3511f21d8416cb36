"""Span-extraction QA (XQuAD, MLQA, TyDiQA-GoldP): pure functions, no fairseq import."""
