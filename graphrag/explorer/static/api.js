// The HTTP API as the page uses it: the key and workspace headers on every request, a 401
// turned into a request for the key, JSON errors turned into readable messages.

const state = {
  key: sessionStorage.getItem("graphrag-key") || "",
  workspace: sessionStorage.getItem("graphrag-workspace") || "",
  onUnauthorized: null,
};

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export function setKey(key) {
  state.key = key;
  sessionStorage.setItem("graphrag-key", key);
}

export function setWorkspace(name) {
  state.workspace = name;
  sessionStorage.setItem("graphrag-workspace", name);
}

export function workspace() {
  return state.workspace;
}

export function onUnauthorized(handler) {
  state.onUnauthorized = handler;
}

function headers(extra = {}) {
  const h = { ...extra };
  if (state.key) h["X-API-Key"] = state.key;
  if (state.workspace) h["X-Graphrag-Workspace"] = state.workspace;
  return h;
}

async function failure(response) {
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.detail) detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch (_) { /* not JSON */ }
  if (response.status === 401 && state.onUnauthorized) state.onUnauthorized(detail);
  return new ApiError(response.status, detail);
}

export async function call(path, { method = "GET", json, body, params } = {}) {
  let url = path;
  if (params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === null || v === "") continue;
      for (const item of Array.isArray(v) ? v : [v]) q.append(k, item);
    }
    url += `?${q}`;
  }
  const init = { method, headers: headers(json !== undefined ? { "Content-Type": "application/json" } : {}) };
  if (json !== undefined) init.body = JSON.stringify(json);
  else if (body !== undefined) init.body = body;
  const response = await fetch(url, init);
  if (!response.ok && response.status !== 202) throw await failure(response);
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

// POST /query/stream: calls onEvent(name, data) for every server-sent event.
export async function stream(path, json, onEvent) {
  const response = await fetch(path, {
    method: "POST", body: JSON.stringify(json),
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(event, JSON.parse(data.join("\n")));
    }
  }
}
