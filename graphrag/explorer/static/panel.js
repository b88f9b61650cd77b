// The right-hand panel: an entity (description, aliases, type, degree, relations,
// provenance with the name highlighted) or one chunk (a citation).
import { call } from "./api.js";
import { badge, clear, el, highlighted, unwrap } from "./text.js";

// The chunks of a provenance, grouped by document, its names highlighted; a click unfolds one.
function provenanceList(prov) {
  return prov.documents.map((d) => el("div", {},
    el("div", { class: "doc" }, d.title || d.source || d.id,
      el("span", { class: "muted" }, ` · ${d.chunks.length} chunk${d.chunks.length === 1 ? "" : "s"}`)),
    d.chunks.map((c) => el("div", { class: "chunk", "data-chunk": c.id, title: `chunk ${c.order} of the document`,
      onclick: (evt) => evt.currentTarget.classList.toggle("open") }, highlighted(unwrap(c.text), prov.names)))));
}

export class Panel {
  constructor(root, { openEntity, expand }) {
    this.root = root;
    this.openEntity = openEntity;
    this.expand = expand;
  }

  error(err) {
    this.shown = null;
    clear(this.root, el("p", { class: "error" }, err.message || String(err)));
  }

  // Fetches what the panel is to show as `what`; null when that fails or when something
  // else was asked for meanwhile (the latest click wins), or when it is already shown.
  async fetchFor(what, path, params) {
    if (this.shown === what) return null; // already shown or on its way (a click both opens and expands)
    this.shown = what;
    clear(this.root, el("p", { class: "muted" }, "loading…"));
    try {
      const answer = await call(path, { params });
      return this.shown === what ? answer : null;
    } catch (err) {
      if (this.shown === what) this.error(err);
      return null;
    }
  }

  async showEntity(key) {
    const e = await this.fetchFor(key, `/explore/entities/${encodeURIComponent(key)}`, { chunks: 20 });
    if (!e) return;
    const relations = e.relations.map((r) => el("li", { class: "clickable", tabindex: 0, title: r.description,
      onclick: () => this.openEntity(r.other) },
      el("span", { class: "name" }, r.other_name), badge(r.other_type),
      el("div", { class: "desc" }, [r.keywords.slice(0, 4).join(", "), r.description].filter(Boolean).join(" — "))));
    const prov = e.provenance;
    const documents = provenanceList(prov);
    clear(this.root,
      el("h2", { id: "entity-name" }, e.name, badge(e.type)),
      el("div", { class: "facts" }, `degree ${e.degree} · ${prov.total_chunks} source chunk${prov.total_chunks === 1 ? "" : "s"}`),
      e.aliases.length ? el("div", { class: "facts" }, "also: ", e.aliases.join(", ")) : null,
      el("p", {}, e.description || el("span", { class: "muted" }, "no description")),
      el("div", { class: "row" }, el("button", { type: "button", onclick: () => this.expand(e.key) }, "Expand in graph")),
      el("h3", {}, `Relations (${e.relations_total})`),
      el("ul", { class: "list", id: "relations" }, relations),
      el("h3", { id: "provenance" }, `Provenance (${prov.total_chunks} chunks${prov.total_chunks > 20 ? ", first 20" : ""})`),
      el("div", { id: "provenance-list" }, documents));
  }

  async showRelation(key) {
    const r = await this.fetchFor(`relation:${key}`, `/explore/relations/${encodeURIComponent(key)}`, { chunks: 20 });
    if (!r) return;
    const end = (e) => el("span", { class: "link", onclick: () => this.openEntity(e.key) }, e.name);
    const prov = r.provenance;
    clear(this.root,
      el("h2", { id: "relation-name" }, end(r.source), " — ", end(r.target)),
      el("div", { class: "facts" }, `weight ${r.weight.toFixed(1)} · ${prov.total_chunks} source chunk${prov.total_chunks === 1 ? "" : "s"}`),
      r.keywords.length ? el("div", { class: "facts" }, "keywords: ", r.keywords.join(", ")) : null,
      el("p", {}, r.description || el("span", { class: "muted" }, "no description")),
      el("h3", {}, `Provenance (${prov.total_chunks} chunks${prov.total_chunks > 20 ? ", first 20" : ""})`),
      el("div", { id: "provenance-list" }, provenanceList(prov)));
  }

  async showChunk(chunkId, ref) {
    const c = await this.fetchFor(`chunk:${chunkId}`, `/explore/chunks/${encodeURIComponent(chunkId)}`);
    if (!c) return;
    const names = c.entities.map((x) => x.name);
    clear(this.root,
      el("h2", { id: "chunk-title" }, ref ? `[${ref}] ` : "", c.document.title || c.document.source || c.document.id),
      el("div", { class: "facts" }, `chunk ${c.chunk.order} · ${c.document.source}`),
      el("div", { class: "chunk open", id: "chunk-text", "data-chunk": c.chunk.id }, highlighted(unwrap(c.chunk.text), names)),
      el("h3", {}, `Entities in this chunk (${c.entities.length})`),
      el("ul", { class: "list" }, c.entities.map((x) => el("li", { class: "clickable", tabindex: 0,
        onclick: () => this.openEntity(x.key) }, el("span", { class: "name" }, x.name), badge(x.type)))));
  }
}
