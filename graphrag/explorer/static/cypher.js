// The Cypher tab: read-only queries through POST /cypher (Neo4j store only), confined to
// this workspace by the server.
import { call } from "./api.js";
import { clear, el } from "./text.js";

function cell(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function setupCypher() {
  const form = document.getElementById("cypher-form");
  const out = document.getElementById("cypher-out");
  const note = document.getElementById("cypher-note");

  form.addEventListener("submit", async (evt) => {
    evt.preventDefault();
    clear(out, el("p", { class: "muted" }, "running…"));
    try {
      const r = await call("/cypher", { method: "POST", json: { query: document.getElementById("cypher-q").value, limit: 200 } });
      const columns = r.columns || (r.rows.length ? Object.keys(r.rows[0]) : []);
      clear(out,
        el("p", { class: "muted" }, `${r.rows.length} row${r.rows.length === 1 ? "" : "s"}${r.truncated ? " (truncated)" : ""}`),
        el("table", {}, el("tr", {}, columns.map((c) => el("th", {}, c))),
          r.rows.map((row) => el("tr", {}, columns.map((c) => el("td", {}, cell(row[c])))))));
    } catch (err) {
      clear(out, el("p", { class: "error" }, err.message));
    }
  });

  return {
    setAvailable(available, store) {
      form.hidden = !available;
      note.textContent = available
        ? "Read-only Cypher on this workspace's graph: Neo4j checks the plan; writes are refused."
        : `Cypher needs the Neo4j graph store; this server uses ${store}. Set NEO4J_URI (GRAPHRAG_GRAPH_STORE=neo4j) ` +
          "to query the graph with Cypher; search, the graph view and Ask work on either store.";
    },
  };
}
