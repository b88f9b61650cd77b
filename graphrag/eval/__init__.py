"""Evaluation on multi-hop QA datasets: retrieval recall per query mode against a BM25 and
a dense baseline, answer scores with a chat model, optional LLM-judged quality.

dataset.py  the folder format (corpus.jsonl, questions.jsonl) and slices of it
metrics.py  recall@k, all@k, MRR, NDCG@k, SQuAD EM / F1, paired bootstrap
bm25.py     the BM25 reference (LanceDB full-text search)
judge.py    LLM-judged faithfulness, answer relevance, context relevance
cache.py    embeddings, extractions and LLM responses kept across fresh workspaces
run.py      index, ask, score
report.py   markdown table and result files
"""
