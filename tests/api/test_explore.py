"""The explorer's page and reads: `/` serves the app with its assets (no CDN), entity search
over names, aliases and descriptions with counts per type, neighbourhoods sampled by weight
with what was left out, an entity with its provenance, one chunk, and auth/workspaces."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from graphrag.explorer import STATIC_DIR


def test_page_and_assets_are_served_without_network(make_client) -> None:
    client = make_client()
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = re.findall(r'(?:src|href)="(/explorer/static/[^"]+)"', page.text)
    assert "/explorer/static/main.js" in assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    # Every module the page imports is served from the package, none from another host.
    for path in STATIC_DIR.glob("*.js"):
        source = path.read_text(encoding="utf-8")
        for target in re.findall(r'from\s+"([^"]+)"', source):
            assert target.startswith("./"), f"{path.name} imports {target}"
            assert client.get(f"/explorer/static/{target[2:]}").status_code == 200, target
        assert "http://" not in source and "https://" not in source, path.name
    assert (STATIC_DIR / "vendor" / "LICENSE-cytoscape.txt").read_text().startswith("Copyright")
    assert "/" not in client.get("/openapi.json").json()["paths"]  # the page is not an API operation


def test_search_by_name_alias_and_description_with_type_counts(graph_backend: str, indexed_client: TestClient) -> None:
    client = indexed_client
    found = client.get("/explore/search", params={"q": "scrooge", "limit": 5}).json()
    assert found["entities"][0]["name"].lower() == "scrooge" and found["entities"][0]["matched"] == "name"
    assert found["total"] == sum(found["types"].values()) >= len(found["entities"])
    assert all(e["degree"] >= 0 for e in found["entities"])
    kind = found["entities"][0]["type"]
    typed = client.get("/explore/search", params={"q": "scrooge", "type": kind.lower(), "limit": 500}).json()
    assert typed["total"] == found["types"][kind] == len(typed["entities"])
    assert all(e["type"] == kind for e in typed["entities"])
    assert typed["types"] == found["types"]  # counts per type ignore the type filter

    # a word only a description has
    word = next(w for w in re.findall(r"[a-z]{7,}", found["entities"][0]["description"].lower())
                if w not in found["entities"][0]["name"].lower())
    by_description = client.get("/explore/search", params={"q": word, "limit": 500}).json()
    assert found["entities"][0]["key"] in {e["key"] for e in by_description["entities"]}

    # an alias after a merge: the entity is found by its other name
    names = [e["name"] for e in client.get("/explore/search", params={"q": "", "type": "person", "limit": 500})
             .json()["entities"] if e["name"].lower() != "scrooge"]
    assert client.post("/entities/merge", json={"a": "Scrooge", "b": names[0]}).status_code == 200
    by_alias = client.get("/explore/search", params={"q": names[0]}).json()["entities"]
    assert by_alias[0]["key"] == "scrooge" and by_alias[0]["matched"] == "alias" and names[0] in by_alias[0]["aliases"]

    assert client.get("/explore/search", params={"q": "zzzz-no-such-thing"}).json()["total"] == 0
    assert client.get("/explore/search", params={"limit": 0}).status_code == 422


def test_neighbourhood_keeps_the_strongest_and_counts_what_it_left_out(graph_backend: str, indexed_client) -> None:
    client = indexed_client
    graph = client.rag.graph
    incident = graph.neighbors(["scrooge"])["scrooge"]
    assert len(incident) >= 4
    full = client.get("/explore/neighbourhood", params={"entity": "Scrooge", "depth": 1, "limit": 1000}).json()
    assert full["omitted"] == 0 and len(full["nodes"]) == len(incident) + 1
    limit = 3
    small = client.get("/explore/neighbourhood", params={"entity": "scrooge", "depth": 1, "limit": limit}).json()
    shown = {n["id"] for n in small["nodes"]}
    assert len(shown) == limit and "scrooge" in shown
    assert small["omitted"] == len(incident) - (limit - 1)
    weight = {(r.target if r.source == "scrooge" else r.source): r.weight for r in incident}
    kept = [weight[k] for k in shown - {"scrooge"}]
    dropped = [w for k, w in weight.items() if k not in shown]
    assert min(kept) >= max(dropped)  # sampled by weight
    assert all(e["source"] in shown and e["target"] in shown for e in small["edges"])
    centre = next(n for n in small["nodes"] if n["id"] == "scrooge")
    drawn = sum("scrooge" in (e["source"], e["target"]) for e in small["edges"])
    assert centre["level"] == 0 and centre["hidden"] == centre["degree"] - drawn > 0
    assert all(e["label"] for e in small["edges"])

    # depth 0 over several entities: them and the relations among them (a query's context)
    pair = sorted(shown)
    ctx = client.get("/explore/neighbourhood", params={"entity": pair, "depth": 0}).json()
    assert {n["id"] for n in ctx["nodes"]} == set(pair) and ctx["omitted"] == 0
    assert client.get("/explore/neighbourhood", params={"entity": "no such entity"}).status_code == 404
    assert client.get("/explore/neighbourhood", params={"entity": ["scrooge", "no such entity"]}).status_code == 200


def test_entity_with_relations_and_provenance(graph_backend: str, indexed_client: TestClient) -> None:
    client = indexed_client
    e = client.get("/explore/entities/Scrooge", params={"chunks": 3}).json()
    assert e["key"] == "scrooge" and e["degree"] == e["relations_total"] == len(e["relations"]) > 0
    assert all(r["other_name"] and r["other"] != "scrooge" for r in e["relations"])
    weights = [r["weight"] for r in e["relations"]]
    assert weights == sorted(weights, reverse=True)
    prov = e["provenance"]
    chunks = [c for d in prov["documents"] for c in d["chunks"]]
    assert 0 < len(chunks) <= 3 and prov["total_chunks"] >= len(chunks)
    assert all(d["source"].endswith(".txt") and d["status"] == "processed" for d in prov["documents"])
    assert all("scrooge" in c["text"].lower() for c in chunks)
    assert "Scrooge" in prov["names"]

    one = client.get(f"/explore/chunks/{chunks[0]['id']}").json()
    assert one["chunk"]["text"] == chunks[0]["text"] and one["document"]["id"] == chunks[0]["document_id"]
    assert "scrooge" in {x["key"] for x in one["entities"]}
    assert client.get("/explore/chunks/nope").status_code == 404
    assert client.get("/explore/entities/no such entity").status_code == 404


def test_relation_with_its_ends_and_provenance(graph_backend: str, indexed_client: TestClient) -> None:
    client = indexed_client
    strongest = max(client.rag.graph.neighbors(["scrooge"])["scrooge"], key=lambda r: (r.weight, r.key))
    r = client.get(f"/explore/relations/{strongest.key}", params={"chunks": 5}).json()
    assert r["key"] == strongest.key and r["weight"] == strongest.weight and r["keywords"] == list(strongest.keywords)
    assert {r["source"]["key"], r["target"]["key"]} == {strongest.source, strongest.target}
    assert all(end["name"] and end["degree"] > 0 for end in (r["source"], r["target"]))
    prov = r["provenance"]
    chunks = [c for d in prov["documents"] for c in d["chunks"]]
    assert 0 < len(chunks) <= 5 and prov["total_chunks"] >= len(chunks)
    assert {r["source"]["name"], r["target"]["name"]} <= set(prov["names"])
    texts = " ".join(c["text"].lower() for c in chunks)
    assert r["source"]["name"].lower() in texts or any(a.lower() in texts for a in r["source"]["aliases"])
    assert client.get("/explore/relations/scrooge|no such entity").status_code == 404


def test_info_is_open_and_the_rest_needs_the_key(make_client, make_rag) -> None:
    other = make_rag("other")
    client = make_client(api_key="s3cret", workspaces={"other": other})
    assert client.get("/").status_code == 200
    assert client.get("/explore/info").json()["auth_required"] is True
    for path in ("/explore/server", "/explore/search", "/explore/entities/x", "/explore/relations/x", "/explore/chunks/x"):
        assert client.get(path).status_code == 401, path
    server = client.get("/explore/server", headers={"X-API-Key": "s3cret"}).json()
    assert server["graph_store"] == "networkx" and server["cypher"] is False and "auto" in server["modes"]
    assert server["workspaces"] == [server["workspace"]]  # GRAPHRAG_API_KEY covers the default workspace only
    refused = client.get("/explore/search", headers={"X-API-Key": "s3cret", "X-Graphrag-Workspace": "other"})
    assert refused.status_code == 403
    assert make_client("open").get("/explore/info").json()["auth_required"] is False


def test_server_lists_every_workspace_for_an_open_server(make_client, make_rag) -> None:
    client = make_client(workspaces={"second": make_rag("second")})
    server = client.get("/explore/server").json()
    assert set(server["workspaces"]) == {server["workspace"], "second"}
    assert client.get("/explore/server", headers={"X-Graphrag-Workspace": "second"}).json()["workspace"] == "second"
