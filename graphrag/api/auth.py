"""API key check: when `GRAPHRAG_API_KEY` is set, every route but /health needs it."""

from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key (GRAPHRAG_API_KEY)")
_bearer = HTTPBearer(auto_error=False, description="the API key as a bearer token")


def require_api_key(
    request: Request,
    key: str | None = Depends(_header),
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> None:
    expected: str | None = request.app.state.api_key
    if not expected:
        return
    given = key or (bearer.credentials if bearer is not None else None)
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong API key: send it in the X-API-Key header (or Authorization: Bearer <key>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
