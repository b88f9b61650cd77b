"""The explorer in a real headless browser against a real `graphrag serve` over the indexed
sample corpus: search, expand, focus, provenance, a streamed answer whose citation opens
the chunk, upload by drag and drop until processed, delete; and key entry on a server that
needs one. Screenshots go to the artefacts folder."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import httpx

from tests.api.serve_process import serving
from tests.e2e.conftest import WORKSPACE_ENV
from tests.fakes.chat import derived_extraction_responder
from tests.fakes.openai_server import FakeOpenAIServer, Reply



def cite_first_source(messages: Sequence[dict], purpose: str) -> str | Reply:
    """A chat model that answers from the first numbered source of the context, citing it,
    word by word with a pause between words (so streaming is visible to the page)."""
    if purpose != "answer":
        return derived_extraction_responder(messages, purpose)
    prompt = "\n".join(str(m["content"]) for m in messages)
    ref = re.search(r"\[(\d+)\]", prompt)
    text = f"The clerk of Scrooge is Bob Cratchit, who works in a cold little cell [{ref.group(1) if ref else 1}]."
    return Reply.stream(re.findall(r"\S+\s*", text), interval=0.05)


def serve_env(workspace: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHRAG_", "OPENAI_", "NEO4J_"))}
    return {**env, **WORKSPACE_ENV, "GRAPHRAG_WORKSPACE": str(workspace), **extra}


def node_on_screen(page, key_filter: str) -> dict:
    """A node of the graph view chosen by a JS predicate on `n`, with its position on the page;
    one in view and not covered by another node when there is such a one."""
    found = page.evaluate(f"""() => {{
        const cy = window.graphView.cy;
        const wanted = cy.nodes().filter(n => {key_filter});
        const free = (n) => {{ const p = n.renderedPosition();
            if (p.x < 10 || p.y < 10 || p.x > cy.width() - 10 || p.y > cy.height() - 10) return false;
            return cy.nodes().every(o => {{ if (o.same(n)) return true; const b = o.renderedBoundingBox();
                return p.x < b.x1 || p.x > b.x2 || p.y < b.y1 || p.y > b.y2; }}); }};
        const clear = wanted.filter(free);
        const n = (clear.nonempty() ? clear : wanted).first();
        if (n.empty()) return null;
        const p = n.renderedPosition();
        return {{id: n.id(), x: p.x, y: p.y, caption: n.data('caption')}};
    }}""")
    assert found is not None, f"no node with {key_filter}"
    box = page.locator("#graph").bounding_box()
    return {**found, "x": box["x"] + found["x"], "y": box["y"] + found["y"]}


def open_page(page, base: str, store: str) -> None:
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready=true]")
    assert store in page.inner_text("#counts")


def search_for(page, words: str, name: str):
    """Types `words` in the search box; the first hit, once it is the entity called `name`."""
    page.fill("#search-q", words)
    first = page.locator("#search-results li").first
    first.locator(".name", has_text=re.compile(f"^{re.escape(name)}$")).wait_for()
    return first


def test_explore_ask_and_manage_documents(page, sample_workspace: Path, artifacts: Path) -> None:
    with FakeOpenAIServer(cite_first_source) as llm, serving(serve_env(
        sample_workspace, GRAPHRAG_CHAT_BASE_URL=llm.base_url, GRAPHRAG_CHAT_MODEL="fake-model",
        GRAPHRAG_CHAT_API_KEY="unused")) as base:
        open_page(page, base, "networkx")
        page.wait_for_selector("#entity-name")  # the most connected entity is shown from the start
        page.wait_for_function("window.graphView.cy.nodes().length > 1")

        # Search: the entity by name, with counts per type in the filter
        first = search_for(page, "scrooge", "Scrooge")
        assert re.match(r"\d+ entit", page.inner_text("#search-count"))
        assert re.search(r"all types \(\d+\)", page.inner_text("#search-type"))

        # Open it: panel with description, relations and provenance (the name highlighted)
        first.click()
        page.wait_for_selector("#entity-name >> text=Scrooge")
        page.wait_for_function("window.graphView.cy.nodes().length > 5")
        marks = page.locator("#provenance-list .chunk mark")
        marks.first.wait_for()
        assert {m.lower() for m in marks.all_inner_texts()} <= {"scrooge", *(
            a.strip().lower() for a in page.inner_text("#panel .facts >> nth=1").removeprefix("also: ").split(","))}
        assert page.locator("#relations li").count() > 0
        assert "left out" in page.inner_text("#graph-note") or "shown" in page.inner_text("#graph-note")
        page.screenshot(path=str(artifacts / "explorer-graph.png"))

        # Expand: click a neighbour that has hidden relations; they are drawn, its panel opens
        target = node_on_screen(page, "n.id() !== 'scrooge' && / \\+\\d+$/.test(n.data('caption')) && n.data('degree') < 40")
        before = page.evaluate("window.graphView.cy.nodes().length")
        page.mouse.click(target["x"], target["y"])
        page.wait_for_function("(k) => { const n = window.graphView.cy.getElementById(k);"
                               " return n.connectedEdges().length >= n.data('degree'); }", arg=target["id"])
        assert page.evaluate("window.graphView.cy.nodes().length") > before
        page.wait_for_function("(name) => document.querySelector('#entity-name')?.textContent.startsWith(name)",
                               arg=target["caption"].rsplit(" +", 1)[0])

        # A relation: clicking an edge shows its two entities and where it comes from
        page.click("#fit")
        edge = page.evaluate("""() => { const cy = window.graphView.cy;
            const inside = (p) => p.x > 20 && p.y > 20 && p.x < cy.width() - 20 && p.y < cy.height() - 20;
            const clear = (p) => cy.nodes().every(n => { const b = n.renderedBoundingBox({includeLabels: true});
                return p.x < b.x1 - 6 || p.x > b.x2 + 6 || p.y < b.y1 - 6 || p.y > b.y2 + 6; });
            const length = (e) => { const a = e.source().renderedPosition(), b = e.target().renderedPosition();
                                    return Math.hypot(a.x - b.x, a.y - b.y); };
            const shown = cy.edges().filter(e => inside(e.renderedMidpoint()));
            const free = shown.filter(e => clear(e.renderedMidpoint()));
            const e = (free.nonempty() ? free : shown).max(length).ele;
            const m = e.renderedMidpoint();
            return {x: m.x, y: m.y, ends: [e.source().data('name'), e.target().data('name')]}; }""")
        box = page.locator("#graph").bounding_box()
        page.mouse.click(box["x"] + edge["x"], box["y"] + edge["y"])
        page.wait_for_selector("#relation-name")
        assert all(name in page.inner_text("#relation-name") for name in edge["ends"])
        page.locator("#provenance-list .chunk").first.wait_for()

        # Focus: a double-click makes a node the centre of a fresh view, within the limit,
        # saying how many weaker neighbours it left out
        page.fill("#limit", "8")
        again = node_on_screen(page, f"n.id() === {json.dumps(target['id'])}")
        page.mouse.dblclick(again["x"], again["y"])
        page.wait_for_function("(k) => window.graphView.cy.getElementById(k).hasClass('centre')"
                               " && window.graphView.cy.$('.centre').length === 1", arg=target["id"])
        page.wait_for_function("window.graphView.cy.nodes().length <= 8")
        assert re.search(r"\d+ weaker neighbours left out", page.inner_text("#graph-note"))
        page.fill("#limit", "60")

        # Ask: the answer streams in pieces; its citation opens the cited chunk
        page.click("nav button[data-tab=ask]")
        page.evaluate("""() => { window.answerUpdates = 0;
            new MutationObserver(() => window.answerUpdates++).observe(
                document.querySelector('#ask-answer'), {childList: true, subtree: true, characterData: true}); }""")
        page.fill("#ask-q", "Who is Scrooge's clerk?")
        page.click("#ask-go")
        page.wait_for_selector("#ask-answer[data-done=true]")
        assert "Bob Cratchit" in page.inner_text("#ask-answer")
        assert page.evaluate("window.answerUpdates") >= 5  # token by token, not all at once
        assert "highlighted in the graph" in page.inner_text("#ask-status")
        assert page.evaluate("window.graphView.cy.nodes('.hl').length") > 0
        link = page.locator("#ask-answer a.cite").first
        chunk_id = link.get_attribute("data-chunk")
        link.click()
        page.wait_for_selector(f"#chunk-text[data-chunk='{chunk_id}']")
        cited = httpx.get(f"{base}/explore/chunks/{chunk_id}").json()["chunk"]["text"]
        assert " ".join(page.inner_text("#chunk-text").split()) == " ".join(cited.split())
        page.screenshot(path=str(artifacts / "explorer-ask.png"))

        # A follow-up carries the conversation; "New conversation" starts over
        sent: list[dict] = []
        page.on("request", lambda r: sent.append(json.loads(r.post_data)) if r.url.endswith("/query/stream") else None)
        page.fill("#ask-q", "And what about his son?")
        page.click("#ask-go")
        page.wait_for_selector("#ask-answer[data-turns='2']")
        assert [t["role"] for t in sent[-1]["history"]] == ["user", "assistant"]
        assert sent[-1]["history"][0]["content"] == "Who is Scrooge's clerk?"
        page.click("#ask-new")
        page.fill("#ask-q", "Who is Marley?")
        page.click("#ask-go")
        page.wait_for_selector("#ask-answer[data-turns='1']")
        assert sent[-1]["history"] == []

        # Documents: drop a file, see it processed and searchable, delete it
        page.click("nav button[data-tab=documents]")
        page.wait_for_selector("#documents li[data-status=processed]")
        text = ("Ada Lovelace wrote the first program for the Analytical Engine. "
                "Charles Babbage designed the Analytical Engine in London.\n") * 3
        dropped = page.evaluate_handle("""(text) => { const dt = new DataTransfer();
            dt.items.add(new File([text], 'lovelace-note.txt', {type: 'text/plain'})); return dt; }""", text)
        page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
        page.wait_for_selector("#jobs li[data-status=done]")
        row = page.locator("#documents li[data-source$='lovelace-note.txt']")
        row.wait_for()
        assert row.get_attribute("data-status") == "processed"
        page.click("nav button[data-tab=search]")
        page.fill("#search-q", "lovelace")
        page.locator("#search-results li .name", has_text="Lovelace").first.wait_for()

        # re-extract it (a job that finishes), then a file the server cannot load shows its error
        page.click("nav button[data-tab=documents]")
        row.locator("button", has_text="Re-extract").click()
        page.wait_for_selector("#jobs li:has-text('reextract')[data-status=done]")
        bad = page.evaluate_handle("""() => { const dt = new DataTransfer();
            dt.items.add(new File(['MZ'], 'program.exe')); return dt; }""")
        page.dispatch_event("#drop", "drop", {"dataTransfer": bad})
        page.wait_for_selector("#jobs li[data-status=failed] >> text=unsupported file type")

        page.once("dialog", lambda dialog: dialog.accept())
        row.locator("button.delete").click()
        row.wait_for(state="detached")
        page.click("nav button[data-tab=search]")
        page.fill("#search-q", "lovelace")
        page.wait_for_function("document.querySelector('#search-count').textContent.startsWith('0 ')")

        # Cypher: explained, not offered, on the NetworkX store
        page.click("nav button[data-tab=cypher]")
        assert "needs the Neo4j graph store" in page.inner_text("#cypher-note")
        assert page.locator("#cypher-form").is_hidden()


def test_key_entry_and_workspace_selector(page, sample_workspace: Path, tmp_path: Path) -> None:
    keys = {"e2e-secret": {"workspaces": ["*"], "role": "read"}}
    env = serve_env(sample_workspace, GRAPHRAG_API_KEYS=json.dumps(keys),
                    GRAPHRAG_API_WORKSPACES=json.dumps({"empty": str(tmp_path / "empty")}))
    with serving(env) as base:
        page.goto(base + "/")
        page.wait_for_selector("#key-dialog[open]")
        page.fill("#key-input", "wrong-key")
        page.click("#key-form button[type=submit]")
        page.wait_for_selector("#key-dialog[open]")
        assert "refused" in page.inner_text("#key-reason")
        page.fill("#key-input", "e2e-secret")
        page.click("#key-form button[type=submit]")
        page.wait_for_selector("body[data-ready=true]")
        search_for(page, "scrooge", "Scrooge")
        assert page.locator("#key-button").is_visible()

        # the key covers both workspaces: the selector offers them and switches the page
        assert page.locator("#workspace-box").is_visible()
        assert sorted(page.locator("#workspace option").all_inner_texts()) == ["empty", sample_workspace.name]
        page.select_option("#workspace", "empty")
        page.wait_for_function("document.querySelector('#counts').textContent.startsWith('empty ')")
        assert "0 entities" in page.inner_text("#counts")
        page.fill("#search-q", "scrooge")
        page.wait_for_function("document.querySelector('#search-count').textContent.startsWith('0 ')")
