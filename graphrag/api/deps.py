"""FastAPI dependencies: which workspace a request is for, who sent it, and what it may do.

One server serves several workspaces: the `X-Graphrag-Workspace` header names one (none:
the default workspace, so existing clients keep working). Every workspace has its own
`GraphRAG` and job queue, built on first use. An API key names its workspaces and its role
(graphrag.settings.ApiKeyScope); `GRAPHRAG_API_KEY` stays an admin key of the default
workspace. With no key configured the server is open, as before.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from graphrag.api.jobs import JobQueue
from graphrag.settings import ApiKeyScope, Settings

if TYPE_CHECKING:
    from graphrag.core import GraphRAG

WORKSPACE_HEADER = "X-Graphrag-Workspace"
Role = Literal["read", "write", "admin"]
_RANK = {"read": 0, "write": 1, "admin": 2}
# POST routes that only read; every other POST/PUT/PATCH/DELETE writes.
_READ_POSTS = {"/query", "/query/stream", "/cypher", "/query/cypher"}

_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")
_bearer = HTTPBearer(auto_error=False, description="the API key as a bearer token")
_workspace_header = APIKeyHeader(name=WORKSPACE_HEADER, auto_error=False, scheme_name="workspace",
                                 description="the workspace this request is for (default: the server's)")


@dataclass
class ApiContext:
    """One served workspace: its GraphRAG and its job queue."""

    rag: "GraphRAG"
    jobs: JobQueue
    owns_rag: bool
    name: str = "default"

    @property
    def settings(self) -> Settings:
        return self.rag.settings

    @property
    def upload_dir(self) -> Path:
        return self.settings.workspace / "uploads"

    def close(self) -> None:
        self.jobs.close()
        if self.owns_rag:
            self.rag.close()


def durable_job_queue(rag: "GraphRAG") -> JobQueue:
    """Durable jobs: kept in the workspace's state database, resumed by the next server."""
    from graphrag.api.job_kinds import job_executor
    from graphrag.stores.sqlite_jobs import SQLiteJobStore

    settings = rag.settings
    jobs: list[JobQueue] = []  # the queue, once made: the executor asks it what is still queued
    queue = JobQueue(
        job_executor(rag, settings.workspace / "uploads", lambda: jobs[0].active() if jobs else ()),
        store=SQLiteJobStore(settings.state_path),
        lock_wait=settings.api_job_lock_wait,
        retries=settings.api_job_retries,
        retry_delay=settings.api_job_retry_delay,
    )
    jobs.append(queue)
    return queue


@dataclass(frozen=True)
class Principal:
    """Who sent a request: the workspaces they may use (`*`: all) and their role."""

    workspaces: frozenset[str]
    role: Role
    key_id: str = "anonymous"

    def covers(self, workspace: str) -> bool:
        return "*" in self.workspaces or workspace in self.workspaces

    def may(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]

    @property
    def admin_everywhere(self) -> bool:
        return self.role == "admin" and "*" in self.workspaces


OPEN = Principal(frozenset({"*"}), "admin")


class WorkspaceRegistry:
    """The served workspaces by name; each built on first use and kept until shutdown."""

    def __init__(self, default: ApiContext, folders: Mapping[str, Path],
                 prebuilt: Mapping[str, "GraphRAG"] | None = None) -> None:
        self.default = default
        self._folders = dict(folders)
        self._prebuilt = dict(prebuilt or {})
        self._open: dict[str, ApiContext] = {default.name: default}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted({self.default.name, *self._folders, *self._prebuilt})

    def get(self, name: str) -> ApiContext:
        with self._lock:
            if name in self._open:
                return self._open[name]
            if name in self._prebuilt:
                ctx = ApiContext(self._prebuilt[name], durable_job_queue(self._prebuilt[name]), owns_rag=False, name=name)
            elif name in self._folders:
                from graphrag.core import GraphRAG

                base = self.default.settings
                # An explicit vector URI (object storage) gets a sub-path per workspace,
                # so two workspaces never share a vector table.
                vectors = f"{base.vector_uri.rstrip('/')}/{name}" if base.vector_uri else None
                settings = base.model_copy(
                    update={"workspace": self._folders[name], "graph_namespace": name, "vector_uri": vectors}
                )
                rag = GraphRAG(settings)
                ctx = ApiContext(rag, durable_job_queue(rag), owns_rag=True, name=name)
            else:
                raise HTTPException(
                    status.HTTP_404_NOT_FOUND,
                    f"this server does not serve workspace {name!r}; served: {', '.join(self.names())} "
                    "(GRAPHRAG_API_WORKSPACES adds more)",
                )
            self._open[name] = ctx
            return ctx

    def close(self) -> None:
        with self._lock:
            for ctx in self._open.values():
                ctx.close()
            self._open.clear()


def key_table(settings: Settings, api_key: str | None) -> dict[str, ApiKeyScope]:
    """Every accepted key with its scope; `api_key` (GRAPHRAG_API_KEY) is an admin key of the
    default workspace."""
    keys = dict(settings.api_keys)
    if api_key:
        keys.setdefault(api_key, ApiKeyScope(workspaces=[settings.resolved_graph_namespace], role="admin"))
    return keys


def authenticate(
    request: Request,
    key: str | None = Depends(_key_header),
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> Principal:
    keys: dict[str, ApiKeyScope] = request.app.state.api_keys
    if not keys:
        return OPEN
    given = key or (bearer.credentials if bearer is not None else None)
    found: tuple[int, ApiKeyScope] | None = None
    if given is not None:
        # Compare with every key, in constant time each, so timing says nothing of which matched.
        for n, (candidate, scope) in enumerate(keys.items()):
            if hmac.compare_digest(given.encode(), candidate.encode()):
                found = (n, scope)
    if found is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong API key: send it in the X-API-Key header (or Authorization: Bearer <key>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    n, scope = found
    return Principal(frozenset(scope.workspaces), scope.role, key_id=f"key#{n + 1}")


def required_role(request: Request) -> Role:
    if request.method in ("GET", "HEAD", "OPTIONS") or request.url.path in _READ_POSTS:
        return "read"
    return "write"


def authorize(
    request: Request,
    principal: Principal = Depends(authenticate),
    workspace: str | None = Depends(_workspace_header),
) -> ApiContext:
    """The workspace context of an authenticated request; 403 when the key does not cover
    that workspace or that kind of request."""
    registry: WorkspaceRegistry = request.app.state.workspaces
    name = workspace.strip() if workspace and workspace.strip() else registry.default.name
    if not principal.covers(name):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"this API key is not valid for workspace {name!r} (header {WORKSPACE_HEADER})")
    role = required_role(request)
    if not principal.may(role):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"this API key has role {principal.role!r}; {request.method} {request.url.path} "
                            f"needs {role!r}")
    ctx = registry.get(name)
    request.state.ctx = ctx
    request.state.principal = principal
    return ctx


def get_ctx(request: Request) -> ApiContext:
    """The context `authorize` chose for this request (the default workspace on public routes)."""
    ctx = getattr(request.state, "ctx", None)
    return ctx if ctx is not None else request.app.state.workspaces.default


def get_principal(request: Request) -> Principal:
    return getattr(request.state, "principal", OPEN)
