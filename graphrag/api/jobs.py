"""Background writes of the API: one worker thread, one job at a time.

A workspace has one writer (the workspace lock), so ingestion and deletion jobs queue here
and run in order; a request only enqueues and answers with a track id, which
GET /jobs/{track_id} polls. Document status lives in the state store as always; the jobs
themselves are kept in memory (the last `keep` of them).
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
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Job:
    track_id: str
    kind: str
    run: Callable[[], dict[str, Any]] = field(repr=False)
    document_ids: list[str] = field(default_factory=list)
    status: str = "queued"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

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
        }


class JobQueue:
    def __init__(self, keep: int = 1000) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._keep = keep
        self._thread = threading.Thread(target=self._work, name="graphrag-api-writer", daemon=True)
        self._thread.start()

    def submit(self, kind: str, run: Callable[[], dict[str, Any]], document_ids: list[str] | None = None) -> Job:
        job = Job(track_id=f"{kind}-{uuid.uuid4().hex[:16]}", kind=kind, run=run, document_ids=document_ids or [])
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
        self._queue.put(None)
        self._thread.join(timeout)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            job.status = "running"
            job.started_at = time.time()
            try:
                job.result = job.run()
                job.status = "done"
            except Exception as exc:  # a job's failure is its status, never the worker's end
                log.exception("API job %s failed", job.track_id)
                job.error = f"{type(exc).__name__}: {exc}"
                job.status = "failed"
            finally:
                job.finished_at = time.time()
                job.done.set()
