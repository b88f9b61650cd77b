"""A real OpenAI-compatible HTTP server on 127.0.0.1, for testing HTTP clients end to end.

    with FakeOpenAIServer() as server:            # or the `openai_server` fixture
        server.enqueue(Reply.error(429, "slow down", headers={"Retry-After": "0.2"}),
                       Reply.chat('{"entities": [], "relations": []}'))
        model = OpenAIChatModel(server.base_url, "fake-model")
        ...
        assert len(server.chat_requests) == 2

Scripted replies are served first-in first-out, per endpoint ("chat" or "embeddings");
when none is queued, chat requests are answered by `chat(messages, purpose)` (by default
`derived_extraction_responder`; the purpose comes from the client's purpose header; it
may return a whole `Reply`, see `FaultyResponder`) and
embedding requests with deterministic unit vectors. Every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest

from graphrag.llm.base import Message
from graphrag.llm.chat import PURPOSE_HEADER
from graphrag.tokens import count_tokens
from tests.fakes.chat import Responder, derived_extraction_responder

Endpoint = Literal["chat", "embeddings"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    status/json: an ordinary JSON response. raw: a body sent as is (malformed JSON, HTML
    error pages). sse: the data payloads of an event stream, each sent as `data: ...`, with
    `interval` seconds between events. delay: seconds to wait before answering (longer
    than the client's timeout provokes a timeout). disconnect: close the connection
    without answering.
    """

    status: int = 200
    json: Any = None
    raw: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    sse: Sequence[str] | None = None
    interval: float = 0.0
    disconnect: bool = False

    @classmethod
    def chat(
        cls,
        text: str,
        *,
        usage: tuple[int, int] | None = None,
        model: str = "fake-model",
        finish_reason: str = "stop",
        **kw: Any,
    ) -> Reply:
        """A chat completion; `usage` = (prompt, completion) tokens, omitted when None;
        `finish_reason` "length" says the answer was cut off at max_tokens."""
        body: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}],
        }
        if usage is not None:
            body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
        return cls(json=body, **kw)

    @classmethod
    def error(cls, status: int, message: str = "fake error", **kw: Any) -> Reply:
        """An error in OpenAI's format: {"error": {"message", "type", "code"}}."""
        return cls(status=status, json={"error": {"message": message, "type": "fake_error", "code": status}}, **kw)

    @classmethod
    def stream(
        cls, pieces: Sequence[str], *, usage: tuple[int, int] | None = None, done: bool = True, **kw: Any
    ) -> Reply:
        """A streamed chat completion: one chunk per piece, then usage if given, then [DONE]
        (unless `done` is False, to simulate a stream that ends abruptly)."""
        events = [
            json.dumps({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": p}}]})
            for p in pieces
        ]
        if usage is not None:
            events.append(
                json.dumps(
                    {
                        "object": "chat.completion.chunk",
                        "choices": [],
                        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
                    }
                )
            )
        if done:
            events.append("[DONE]")
        return cls(sse=events, **kw)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    raw: bytes
    body: Any  # parsed JSON, None when the body is not JSON
    client_port: int  # the same port means the client reused its connection

    @property
    def purpose(self) -> str | None:
        return self.headers.get(PURPOSE_HEADER.lower())

    @property
    def messages(self) -> list[Message]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    @property
    def prompt(self) -> str:
        """All message contents, one after the other."""
        return "\n".join(m.get("content", "") for m in self.messages)


class FakeOpenAIServer:
    """Serves `/v1/chat/completions`, `/v1/embeddings` and `/v1/models` from a background thread."""

    def __init__(
        self, chat: Responder | None = None, *, model: str = "fake-model", embedding_dim: int = 16
    ) -> None:
        self.chat = chat or derived_extraction_responder
        self.model = model
        self.embedding_dim = embedding_dim
        self.requests: list[RecordedRequest] = []
        self.max_in_flight = 0
        self._queues: dict[Endpoint, deque[Reply]] = {"chat": deque(), "embeddings": deque()}
        self._in_flight = 0
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle

    def start(self) -> FakeOpenAIServer:
        server = _Server(self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake server is not running; use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    # --- scripting and inspection

    def enqueue(self, *replies: Reply, endpoint: Endpoint = "chat") -> None:
        with self._lock:
            self._queues[endpoint].extend(replies)

    def pending(self, endpoint: Endpoint = "chat") -> int:
        with self._lock:
            return len(self._queues[endpoint])

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/embeddings")]

    # --- serving (called on the handler threads)

    def _reply_for(self, request: RecordedRequest) -> Reply:
        endpoint: Endpoint | None = (
            "chat" if request.path.endswith("/chat/completions")
            else "embeddings" if request.path.endswith("/embeddings")
            else None
        )
        if endpoint is None:
            return Reply.error(404, f"no route {request.method} {request.path}")
        with self._lock:
            if self._queues[endpoint]:
                return self._queues[endpoint].popleft()
        if not isinstance(request.body, dict):
            return Reply.error(400, "the body is not a JSON object")
        return self._default_chat(request) if endpoint == "chat" else self._default_embeddings(request.body)

    def _default_chat(self, request: RecordedRequest) -> Reply:
        try:
            text = self.chat(request.messages, request.purpose or "")
        except Exception as exc:  # the test's responder failed: tell the client, like a server would
            return Reply.error(500, f"responder failed: {type(exc).__name__}: {exc}")
        if isinstance(text, Reply):  # a responder may script the whole reply (errors, finish_reason)
            return text
        usage = (sum(count_tokens(m.get("content", "")) for m in request.messages), count_tokens(text))
        if not request.body.get("stream"):
            return Reply.chat(text, usage=usage, model=self.model)
        include_usage = bool((request.body.get("stream_options") or {}).get("include_usage"))
        return Reply.stream(re.findall(r"\S+\s*|\s+", text), usage=usage if include_usage else None)

    def _default_embeddings(self, body: dict[str, Any]) -> Reply:
        inputs = body.get("input", [])
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        dim = int(body.get("dimensions") or self.embedding_dim)
        return Reply(
            json={
                "object": "list",
                "model": body.get("model", self.model),
                "data": [
                    {"object": "embedding", "index": i, "embedding": deterministic_vector(str(t), dim)}
                    for i, t in enumerate(texts)
                ],
                "usage": {"prompt_tokens": sum(count_tokens(str(t)) for t in texts), "total_tokens": 0},
            }
        )

    def _enter(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1


FAULT_KINDS = ("truncated", "length", "malformed", "empty", "failing")
_JSON_PURPOSES = ("extract", "extract_reask", "glean", "keywords")


class FaultyResponder:
    """Plays the model like `derived_extraction_responder`, but spoils the answers to a
    share `rate` of the prompts (chosen by a hash of the prompt, so the same prompt is
    always spoiled: a re-ask is a new prompt, a retry of the same request is not):

    truncated: the answer cut at 60 % and sent as complete (a proxy or a server bug);
    length:    the same cut, with finish_reason "length" (the token limit), whatever the limit;
    malformed: JSON that is broken mid-way, naming an entity that is not in the text;
    empty:     an empty answer;
    failing:   HTTP 500.

    Free-text answers (summaries) are spoiled only where a client can tell (length, empty,
    failing). Set `healthy = True` to play a healthy model from then on.
    """

    INVENTED = "Invented Nobody"

    def __init__(self, kind: str, rate: float, base: Responder = derived_extraction_responder) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; use one of {FAULT_KINDS}")
        self.kind = kind
        self.rate = rate
        self.base = base
        self.healthy = False
        self.spoiled = 0

    def __call__(self, messages: Sequence[Message], purpose: str) -> str | Reply:
        text = self.base(messages, purpose)
        prompt = "\n".join(m.get("content", "") for m in messages)
        share = int(hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
        if self.healthy or share >= self.rate:
            return text
        json_purpose = purpose in _JSON_PURPOSES
        if not json_purpose and self.kind in ("truncated", "malformed"):
            return text
        self.spoiled += 1
        cut = text[: max(1, int(len(text) * 0.6))]
        if self.kind == "truncated":
            return cut
        if self.kind == "length":
            return Reply.chat(cut, finish_reason="length")
        if self.kind == "malformed":
            return '{"entities": [{"name": "%s", "type": }], "relations": [' % self.INVENTED + "]}"
        if self.kind == "empty":
            return ""
        return Reply.error(500, "the model crashed")


def deterministic_vector(text: str, dim: int) -> list[float]:
    """A unit vector that depends only on the text."""
    rng = random.Random(hashlib.sha256(text.encode("utf-8")).digest())
    vector = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping on a `delay` must not block shutdown

    def __init__(self, fake: FakeOpenAIServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out or disconnect are part of the tests, not errors


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do: clients reuse connections

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; with Nagle's algorithm and the
        # client's delayed ACK, each response would stall ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(
            method="POST",
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            raw=raw,
            body=body,
            client_port=self.client_address[1],
        )
        fake._enter(request)
        try:
            self._send(fake._reply_for(request))
        finally:
            fake._leave()

    def do_GET(self) -> None:
        fake = self.server.fake
        if self.path.rstrip("/").endswith("/models"):
            self._send(Reply(json={"object": "list", "data": [{"id": fake.model, "object": "model"}]}))
        else:
            self._send(Reply.error(404, f"no route GET {self.path}"))

    def _send(self, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.disconnect:
            self.close_connection = True
            return
        if reply.sse is not None:
            self._send_stream(reply)
            return
        payload = reply.raw if reply.raw is not None else json.dumps(reply.json).encode("utf-8")
        self.send_response(reply.status)
        headers = {"Content-Type": "application/json", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_stream(self, reply: Reply) -> None:
        # No Content-Length: the end of the stream is the end of the connection.
        self.send_response(reply.status)
        for name, value in {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **reply.headers}.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        for event in reply.sse or ():
            self.wfile.write(f"data: {event}\n\n".encode("utf-8"))
            self.wfile.flush()
            if reply.interval:
                time.sleep(reply.interval)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # keep test output clean


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    """A running fake server, stopped after the test."""
    with FakeOpenAIServer() as server:
        yield server
