// Wires the explorer together: server info (key needed? store? workspaces?), the tabs, and
// the graph, panel, search, ask, documents and Cypher parts.
import { call, onUnauthorized, setKey, setWorkspace, workspace } from "./api.js";
import { setupAsk } from "./ask.js";
import { setupCypher } from "./cypher.js";
import { setupDocuments } from "./documents.js";
import { GraphView } from "./graph.js";
import { Panel } from "./panel.js";
import { setupSearch } from "./search.js";
import { clear, el } from "./text.js";

const $ = (id) => document.getElementById(id);

function controls() {
  const limit = Math.max(5, Math.min(1000, Number($("limit").value) || 60));
  return { depth: Number($("depth").value), limit };
}

const graph = new GraphView($("graph"), {
  onSelect: (key) => panel.showEntity(key),
  onEdge: (key) => panel.showRelation(key),
  note: $("graph-note"), legend: $("legend"), controls,
});
const panel = new Panel($("panel"), {
  openEntity: (key) => openEntity(key),
  expand: (key) => graph.expand(key).catch(showGraphError),
});

function showGraphError(err) {
  $("graph-note").textContent = err.message;
}

async function openEntity(key) {
  panel.showEntity(key);
  graph.focus(key).then(() => graph.select(key)).catch(showGraphError);
}

const search = setupSearch({ openEntity });
const ask = setupAsk({
  showChunk: (id, ref) => panel.showChunk(id, ref),
  showContext: (keys, rels) => graph.showContext(keys, rels).catch(showGraphError),
});
const documents = setupDocuments({ onChanged: () => { loadServer(); search.run(); } });
const cypher = setupCypher();

function selectTab(name) {
  for (const b of document.querySelectorAll("nav button")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const t of document.querySelectorAll(".tab")) t.hidden = t.id !== `tab-${name}`;
  if (name === "documents") documents.refresh();
}
for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => selectTab(b.dataset.tab));

$("relayout").addEventListener("click", () => graph.layout());
$("fit").addEventListener("click", () => graph.fit());
$("clear").addEventListener("click", () => graph.clear());

// API key: asked for when the server needs one, and again when it refuses the one given.
const dialog = $("key-dialog");
function askKey(reason) {
  $("key-reason").textContent = reason || "This server needs an API key.";
  if (!dialog.open) dialog.showModal();
  $("key-input").focus();
}
$("key-form").addEventListener("submit", () => {
  setKey($("key-input").value.trim());
  $("key-input").value = "";
  start();
});
$("key-button").addEventListener("click", () => askKey("Change the API key used by this page."));
onUnauthorized((detail) => askKey(`The server refused the key: ${detail}`));

async function loadServer() {
  const s = await call("/explore/server");
  const c = s.counts;
  $("counts").textContent = `${s.workspace} · ${s.graph_store} · ${c.documents} documents · ${c.chunks} chunks · ` +
    `${c.entities} entities · ${c.relations} relations`;
  const box = $("workspace-box");
  box.hidden = s.workspaces.length < 2;
  clear($("workspace"), s.workspaces.map((w) => el("option", { value: w, selected: w === s.workspace }, w)));
  cypher.setAvailable(s.cypher, s.graph_store);
  return s;
}

$("workspace").addEventListener("change", (evt) => {
  setWorkspace(evt.target.value);
  graph.clear();
  clear($("panel"), el("p", { class: "muted" }, `Workspace ${evt.target.value}: search for an entity.`));
  start();
});

async function start() {
  const info = await call("/explore/info");
  $("key-button").hidden = !info.auth_required;
  let s;
  try {
    s = await loadServer();
  } catch (err) {
    if (err.status === 403 && workspace()) { // a key for other workspaces: fall back to its default
      setWorkspace("");
      return start();
    }
    $("counts").textContent = err.message;
    return;
  }
  ask.setModes(s.modes, s.default_mode);
  const top = await search.run();
  // Something to look at from the start: the most connected entity.
  if (top && top.entities.length && graph.cy.nodes().empty() && !$("search-q").value.trim()) openEntity(top.entities[0].key);
  document.body.dataset.ready = "true";
}

start();
