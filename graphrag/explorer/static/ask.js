// The Ask tab: a question streamed from /query/stream; citations [n] are links to the cited
// chunk; the context's entities and relations are then highlighted in the graph. Questions
// form a conversation: earlier turns go with each question ("and his son?"), until "New
// conversation".
import { stream } from "./api.js";
import { clear, el } from "./text.js";

const CITATION = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

export function setupAsk({ showChunk, showContext }) {
  const form = document.getElementById("ask-form");
  const question = document.getElementById("ask-q");
  const mode = document.getElementById("ask-mode");
  const go = document.getElementById("ask-go");
  const status = document.getElementById("ask-status");
  const answer = document.getElementById("ask-answer");
  const refList = document.getElementById("ask-refs");
  const restart = document.getElementById("ask-new");
  const HISTORY_TURNS = 12; // the API takes up to 50; the condenser reads the last few
  let refs = new Map();
  let turns = []; // {role, content} of this conversation, oldest first

  restart.addEventListener("click", () => {
    turns = [];
    restart.hidden = true;
    status.textContent = "new conversation";
    question.focus();
  });

  function citeLink(n) {
    const ref = refs.get(n);
    if (!ref) return document.createTextNode(`${n}`);
    return el("a", { class: "cite", href: `#chunk-${ref.chunk_id}`, "data-chunk": ref.chunk_id,
      title: ref.title || ref.source, onclick: (evt) => { evt.preventDefault(); showChunk(ref.chunk_id, n); } }, `${n}`);
  }

  function render(text) {
    const out = [];
    let last = 0;
    for (const m of text.matchAll(CITATION)) {
      out.push(text.slice(last, m.index), "[");
      m[1].split(",").map((s) => Number(s.trim())).forEach((n, i) => { if (i) out.push(", "); out.push(citeLink(n)); });
      out.push("]");
      last = m.index + m[0].length;
    }
    out.push(text.slice(last));
    clear(answer, out.map((x) => (typeof x === "string" ? document.createTextNode(x) : x)));
  }

  function listRefs(list) {
    clear(refList, list.map((r) => el("li", { value: r.ref }, citeLink(r.ref), " ", r.title || r.source)));
  }

  form.addEventListener("submit", async (evt) => {
    evt.preventDefault();
    const q = question.value.trim();
    if (!q) return;
    go.disabled = true;
    refs = new Map();
    clear(answer);
    clear(refList);
    delete answer.dataset.done;
    status.textContent = "retrieving…";
    const started = performance.now();
    let text = "";
    try {
      const body = { question: q, mode: mode.value || null, history: turns.slice(-HISTORY_TURNS) };
      await stream("/query/stream", body, (event, data) => {
        if (event === "references") {
          for (const r of data) refs.set(r.ref, r);
          status.textContent = `answering from ${data.length} sources…`;
        } else if (event === "token") {
          text += data.text;
          render(text);
        } else if (event === "result") {
          for (const r of data.context_references || []) refs.set(r.ref, r);
          render(data.answer);
          listRefs(data.references);
          const secs = ((performance.now() - started) / 1000).toFixed(1);
          const searched = data.standalone_question ? `searched as “${data.standalone_question}” · ` : "";
          status.textContent = `${searched}${data.mode} · ${data.references.length} cited · ${data.entities.length} ` +
            `entities and ${data.relations.length} relations in the context (highlighted in the graph) · ${secs} s`;
          if (data.answer) {
            turns.push({ role: "user", content: q }, { role: "assistant", content: data.answer });
            restart.hidden = false;
            answer.dataset.turns = String(turns.length / 2);
          }
          answer.dataset.done = "true";
          showContext(data.entities.map((e) => e.key), data.relations.map((r) => r.key));
        } else if (event === "error") {
          status.textContent = `error: ${data.detail}`;
        }
      });
    } catch (err) {
      status.textContent = `error: ${err.message}`;
    } finally {
      go.disabled = false;
    }
  });

  return {
    setModes(modes, preferred) {
      clear(mode, modes.map((m) => el("option", { value: m, selected: m === preferred }, m)));
    },
  };
}
