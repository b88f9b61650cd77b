// Small DOM helpers: build elements, escape text, highlight names in text.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Source text is often hard-wrapped: single line breaks become spaces, paragraphs stay.
export function unwrap(text) {
  return text.replace(/([^\n])\n(?!\n)/g, "$1 ");
}

// `text` as nodes, every occurrence of one of `names` (case-insensitive, whole words) in <mark>.
export function highlighted(text, names) {
  const wanted = [...new Set(names.filter((n) => n && n.trim().length > 1))].sort((a, b) => b.length - a.length);
  if (!wanted.length) return [document.createTextNode(text)];
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(${wanted.map(escapeRegExp).join("|")})(?![\\p{L}\\p{N}])`, "giu");
  const out = [];
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    out.push(el("mark", {}, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

const PALETTE = ["#2f6fdf", "#d1495b", "#2a9d8f", "#e09f3e", "#7b4fb5", "#3f8f3f", "#c05f9a", "#5b7083",
  "#b5651d", "#1b998b", "#8a6fdf", "#b88a00"];

// A stable colour per entity type.
export function typeColour(type) {
  let h = 0;
  for (const ch of (type || "").toLowerCase()) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

export function badge(type) {
  return el("span", { class: "badge", style: `background:${typeColour(type)}` }, type || "—");
}
