"""Background writes of the API: one worker thread, one job at a time, durable.

A workspace has one writer (the workspace lock), so ingestion, deletion and re-extraction
jobs queue here and run in order; a request only enqueues and answers with a track id,
which GET /jobs/{track_id} polls. Jobs are kept in the state database (`SQLiteJobStore`)
from the moment they are accepted: a server that stops or is killed resumes every job
that was queued or running when it starts again (each kind of job is idempotent).

While another process (a CLI run, a flow) holds the workspace, a job waits for it, up to
`lock_wait` seconds (GRAPHRAG_API_JOB_LOCK_WAIT), its status `queued`; other failures are
retried `retries` times with exponential backoff, except errors no retry can fix (an
unknown document, a path that does not exist, a configuration error).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from graphrag.errors import ConfigError, DocumentNotFoundError, SourceNotFoundError, WorkspaceLockedError
from graphrag.progress import ProgressCallback

log = logging.getLogger(__name__)

Executor = Callable[[str, dict[str, Any], ProgressCallback], dict[str, Any]]  # (kind, spec, progress) -> result
_PERMANENT = (DocumentNotFoundError, SourceNotFoundError, ConfigError)


class JobStore(Protocol):
    def save(self, job: dict[str, Any]) -> None: ...
    def unfinished(self) -> list[dict[str, Any]]: ...
    def recent(self, limit: int) -> list[dict[str, Any]]: ...


@dataclass
class Job:
    track_id: str
    kind: str
    spec: dict[str, Any] = field(default_factory=dict)
    document_ids: list[str] = field(default_factory=list)
    status: str = "queued"
    attempts: int = 0
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    # The running attempt's stage and counts, as the CLI's progress bars show them: kept in
    # memory only (a stage can report hundreds of times a second), cleared by a new attempt.
    progress: dict[str, Any] | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def report(self, stage: str, done: int, total: int) -> None:
        self.progress = {"stage": stage, "done": done, "total": total}

    def to_dict(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "kind": self.kind,
            "status": self.status,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "document_ids": list(self.document_ids),
            "result": self.result,
            "error": self.error,
            "progress": self.progress,
        }

    def row(self) -> dict[str, Any]:
        row = {**self.to_dict(), "spec": self.spec, "attempts": self.attempts}
        del row["progress"]
        return row


class JobQueue:
    def __init__(
        self,
        execute: Executor,
        *,
        store: JobStore | None = None,
        keep: int = 1000,
        lock_wait: float = 600.0,
        lock_poll: float = 0.5,
        retries: int = 3,
        retry_delay: float = 2.0,
    ) -> None:
        self._execute = execute
        self._store = store
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._keep = keep
        self.lock_wait = lock_wait
        self.lock_poll = lock_poll
        self.retries = retries
        self.retry_delay = retry_delay
        self._stopping = threading.Event()
        if store is not None:
            self._resume(store)
        self._thread = threading.Thread(target=self._work, name="graphrag-api-writer", daemon=True)
        self._thread.start()

    def _resume(self, store: JobStore) -> None:
        fields = set(Job.__dataclass_fields__) - {"done", "progress"}
        for row in store.recent(self._keep):
            job = Job(**{k: v for k, v in row.items() if k in fields})
            if job.status in ("done", "failed"):
                job.done.set()
            self._jobs[job.track_id] = job
        for row in store.unfinished():
            job = self._jobs.get(row["track_id"]) or Job(**{k: v for k, v in row.items() if k in fields})
            self._jobs.setdefault(job.track_id, job)
            job.status = "queued"
            log.info("resuming API job %s (%s) accepted before the restart", job.track_id, job.kind)
            self._queue.put(job)

    def submit(self, kind: str, spec: dict[str, Any], document_ids: list[str] | None = None) -> Job:
        job = Job(track_id=f"{kind}-{uuid.uuid4().hex[:16]}", kind=kind, spec=spec, document_ids=document_ids or [])
        self._save(job)  # durable before the request is answered
        with self._lock:
            self._jobs[job.track_id] = job
            while len(self._jobs) > self._keep:
                oldest = next(iter(self._jobs.values()))
                if not oldest.done.is_set():
                    break
                self._jobs.popitem(last=False)
        self._queue.put(job)
        return job

    def get(self, track_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(track_id)

    def list(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def active(self) -> list[Job]:
        return [j for j in self.list() if not j.done.is_set()]

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once every job submitted so far has finished (tests, shutdown)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for job in self.list():
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not job.done.wait(remaining):
                return False
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Stops after the running job; a job waiting for the lock or a retry stays queued
        in the store, for the next server."""
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout)
        close = getattr(self._store, "close", None)
        if close is not None and not self._thread.is_alive():
            close()

    def _save(self, job: Job) -> None:
        if self._store is not None:
            self._store.save(job.row())

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None or self._stopping.is_set():
                return
            self._run(job)

    def _run(self, job: Job) -> None:
        first = time.monotonic()
        failures = 0
        while True:
            job.status = "running"
            job.started_at = job.started_at or time.time()
            job.attempts += 1
            job.progress = None
            self._save(job)
            try:
                job.result = self._execute(job.kind, job.spec, job.report)
                job.status, job.error = "done", None
                break
            except WorkspaceLockedError as exc:
                if time.monotonic() - first >= self.lock_wait:
                    self._fail(job, exc, f" (waited {self.lock_wait:g} s; GRAPHRAG_API_JOB_LOCK_WAIT)")
                    break
                job.status, job.error = "queued", f"waiting for the workspace: {exc}"
                self._save(job)
                delay = self.lock_poll
            except _PERMANENT as exc:
                self._fail(job, exc)
                break
            except Exception as exc:  # a job's failure is its status, never the worker's end
                failures += 1
                if failures > self.retries:
                    log.exception("API job %s failed", job.track_id)
                    self._fail(job, exc, f" (after {failures} attempts)")
                    break
                delay = self.retry_delay * 2 ** (failures - 1)
                log.warning("API job %s failed (%s); retry %d/%d in %.1f s", job.track_id, exc, failures,
                            self.retries, delay)
                job.status, job.error = "queued", f"retrying: {type(exc).__name__}: {exc}"
                self._save(job)
            if self._stopping.wait(delay):
                job.status = "queued"
                self._save(job)
                return  # resumed by the next server
        job.finished_at = time.time()
        self._save(job)
        job.done.set()

    def _fail(self, job: Job, exc: Exception, note: str = "") -> None:
        job.status = "failed"
        job.error = f"{type(exc).__name__}: {exc}{note}"
