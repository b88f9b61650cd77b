"""/docs and /redoc need no network: every script, style and icon they reference is served
by the API itself (from the fastapi-offline package), none from a CDN."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")


def _references(html: str) -> list[str]:
    return [a or b for a, b in _REFERENCE.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_and_assets_are_served_locally(make_client: Callable[..., TestClient], page: str) -> None:
    client = make_client(api_key="k")  # the docs stay open when the API has a key
    response = client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    html = response.text
    assert not re.search(r"""["'](?:https?:)?//""", html), f"{page} references an external URL"
    refs = _references(html)
    scripts = [r for r in refs if r.endswith(".js")]
    assert scripts, f"{page} loads no script: {refs}"
    for ref in refs:
        assert ref.startswith("/"), ref
        asset = client.get(ref)
        assert asset.status_code == 200, (ref, asset.status_code)
        assert len(asset.content) > 1000, ref
    if page == "/docs":
        assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io
        assert "/openapi.json" in refs and client.get("/openapi.json").json()["info"]["title"] == "graphrag"
