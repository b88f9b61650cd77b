// The graph view: cytoscape with a force layout (cose), colour by type, size by degree,
// edge labels from relation keywords; click expands, double-click focuses.
import cytoscape from "./vendor/cytoscape.esm.min.js";
import { call } from "./api.js";
import { clear, el, typeColour } from "./text.js";

const MIN_READABLE_ZOOM = 0.8; // below this the 13px captions get hard to read

function style() {
  return [
    { selector: "node", style: {
      "background-color": "data(colour)", label: "data(caption)", width: "data(size)", height: "data(size)",
      "font-size": 13, color: "#1d2330", "text-valign": "bottom", "text-margin-y": 3,
      "text-outline-color": "#f7f7f5", "text-outline-width": 2, "border-width": 1, "border-color": "#ffffff",
      "min-zoomed-font-size": 7 } },
    { selector: "node.centre", style: { "border-width": 3, "border-color": "#1d2330" } },
    { selector: "node:selected", style: { "border-width": 4, "border-color": "#f2b705" } },
    { selector: "edge", style: {
      width: "data(width)", "line-color": "#b6bcc6", "curve-style": "bezier", label: "data(label)", "font-size": 10,
      color: "#4a505c", "text-rotation": "autorotate", "text-background-color": "#f7f7f5",
      "text-background-opacity": 0.85, "text-background-padding": 1, "min-zoomed-font-size": 8 } },
    { selector: ".faded", style: { opacity: 0.18 } },
    { selector: "node.hl", style: { "border-width": 4, "border-color": "#e4572e" } },
    { selector: "edge.hl", style: { "line-color": "#e4572e", width: 3 } },
  ];
}

export class GraphView {
  constructor(container, { onSelect, onEdge, note, legend, controls }) {
    this.onSelect = onSelect;
    this.onEdge = onEdge;
    this.note = note;
    this.legend = legend;
    this.controls = controls; // () => ({depth, limit})
    this.omitted = 0;
    this.loads = 0;
    this.lastReplace = 0;
    this.cy = cytoscape({ container, style: style(), minZoom: 0.1, maxZoom: 3 });
    this.cy.on("tap", "node", (evt) => {
      const key = evt.target.id();
      this.onSelect(key);
      this.expand(key);
    });
    this.cy.on("dbltap", "node", (evt) => this.focus(evt.target.id()));
    this.cy.on("tap", "edge", (evt) => this.onEdge(evt.target.id()));
    window.graphView = this; // for the end-to-end tests and the curious
  }

  // Replaces the view with the neighbourhood of `key`.
  async focus(key) {
    const { depth, limit } = this.controls();
    await this.load([key], { depth, limit, replace: true });
    this.onSelect(key);
  }

  // Adds the neighbours of `key` (one hop) to the view.
  async expand(key) {
    const { limit } = this.controls();
    await this.load([key], { depth: 1, limit, replace: false });
  }

  // Shows `keys` and the relations among them, highlighted (a query's context).
  async showContext(keys, relationKeys) {
    if (!keys.length) return;
    await this.load(keys.slice(0, 60), { depth: 0, limit: 60, replace: true });
    this.highlight(keys, relationKeys);
  }

  async load(keys, { depth, limit, replace }) {
    const mine = ++this.loads;
    if (replace) this.lastReplace = mine;
    const data = await call("/explore/neighbourhood", { params: { entity: keys, depth, limit } });
    if (mine < this.lastReplace) return data; // a newer view was asked for meanwhile
    const cy = this.cy;
    cy.batch(() => {
      if (replace) {
        cy.elements().remove();
        this.omitted = 0;
      }
      cy.elements().removeClass("faded hl centre");
      for (const n of data.nodes) {
        const existing = cy.getElementById(n.id);
        const fields = { id: n.id, name: n.label, type: n.type, degree: n.degree, colour: typeColour(n.type),
          size: Math.min(16 + 7 * Math.sqrt(n.degree || 0), 80) };
        if (existing.nonempty()) existing.data(fields);
        else cy.add({ group: "nodes", data: fields });
      }
      for (const e of data.edges) {
        if (cy.getElementById(e.id).nonempty()) continue;
        cy.add({ group: "edges", data: { id: e.id, source: e.source, target: e.target, label: e.label,
          description: e.description, width: Math.min(1 + Math.log1p(e.weight || 1), 6) } });
      }
      for (const key of data.centres) cy.getElementById(key).addClass("centre");
      cy.nodes().forEach((node) => {
        const more = Math.max((node.data("degree") || 0) - node.connectedEdges().length, 0);
        node.data("caption", more ? `${node.data("name")} +${more}` : node.data("name"));
      });
    });
    this.omitted = replace ? data.omitted : this.omitted + data.omitted;
    this.layout(data.centres[0]);
    this.describe(data);
    return data;
  }

  layout(centreKey) {
    const centre = centreKey ? this.cy.getElementById(centreKey) : null;
    const run = this.cy.layout({ name: "cose", animate: false, randomize: false, nodeRepulsion: () => 9000,
      idealEdgeLength: () => 90, padding: 30, numIter: 1200 });
    run.run();
    this.cy.fit(undefined, 30);
    if (this.cy.zoom() < MIN_READABLE_ZOOM) {
      // Legible captions first: zoom in on the centre; the rest is a drag away.
      this.cy.zoom({ level: MIN_READABLE_ZOOM, position: (centre && centre.nonempty() ? centre : this.cy.nodes()).position() });
      if (centre && centre.nonempty()) this.cy.center(centre);
    }
  }

  describe(data) {
    const nodes = this.cy.nodes().length;
    const edges = this.cy.edges().length;
    let text = `${nodes} entities, ${edges} relations shown`;
    if (this.omitted) text += ` · ${this.omitted} weaker neighbours left out (raise the limit, or click a node to expand it)`;
    this.note.textContent = text;
    const types = {};
    this.cy.nodes().forEach((n) => { types[n.data("type")] = (types[n.data("type")] || 0) + 1; });
    clear(this.legend, Object.entries(types).sort((a, b) => b[1] - a[1]).slice(0, 10).map(([t, c]) =>
      el("span", {}, el("i", { style: `background:${typeColour(t)}` }), `${t || "—"} ${c}`)));
  }

  highlight(keys, relationKeys = []) {
    const cy = this.cy;
    const wanted = new Set(keys);
    const rels = new Set(relationKeys);
    cy.batch(() => {
      cy.elements().removeClass("hl").addClass("faded");
      cy.nodes().filter((n) => wanted.has(n.id())).removeClass("faded").addClass("hl");
      cy.edges().filter((e) => rels.has(e.id()) || (wanted.has(e.source().id()) && wanted.has(e.target().id())))
        .removeClass("faded").addClass("hl");
    });
  }

  select(key) {
    this.cy.nodes().unselect();
    const node = this.cy.getElementById(key);
    if (node.nonempty()) node.select();
  }

  fit() { this.cy.fit(undefined, 30); }

  clear() {
    this.cy.elements().remove();
    this.omitted = 0;
    this.note.textContent = "";
    clear(this.legend);
  }
}
