// The Search tab: entities by name, alias or description, a type filter with counts.
import { call } from "./api.js";
import { badge, clear, el } from "./text.js";

export function setupSearch({ openEntity }) {
  const form = document.getElementById("search-form");
  const input = document.getElementById("search-q");
  const typeSelect = document.getElementById("search-type");
  const count = document.getElementById("search-count");
  const list = document.getElementById("search-results");
  let timer = null;
  let seq = 0;

  async function run() {
    const mine = ++seq;
    let found;
    try {
      found = await call("/explore/search", { params: { q: input.value.trim(), type: typeSelect.value, limit: 50 } });
    } catch (err) {
      count.textContent = err.message;
      return;
    }
    if (mine !== seq) return; // a newer search answered first
    const chosen = typeSelect.value;
    const total = Object.values(found.types).reduce((a, b) => a + b, 0);
    clear(typeSelect, el("option", { value: "" }, `all types (${total})`),
      Object.entries(found.types).sort((a, b) => b[1] - a[1]).map(([t, n]) =>
        el("option", { value: t, selected: t === chosen }, `${t || "—"} (${n})`)));
    if (chosen && !(chosen in found.types)) typeSelect.append(el("option", { value: chosen, selected: true }, `${chosen} (0)`));
    count.textContent = `${found.total} entit${found.total === 1 ? "y" : "ies"}${found.total > found.entities.length ? `, first ${found.entities.length}` : ""}`;
    clear(list, found.entities.map((e) => el("li", { class: "clickable", tabindex: 0, "data-key": e.key,
      onclick: () => openEntity(e.key), onkeydown: (evt) => { if (evt.key === "Enter") openEntity(e.key); } },
      el("span", { class: "name" }, e.name), badge(e.type), el("span", { class: "muted" }, ` · ${e.degree}`),
      e.matched === "alias" ? el("div", { class: "muted" }, `alias: ${e.aliases.join(", ")}`) : null,
      el("div", { class: "desc" }, e.description))));
    return found;
  }

  form.addEventListener("submit", (evt) => { evt.preventDefault(); run(); });
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 200); });
  typeSelect.addEventListener("change", run);
  return { run };
}
