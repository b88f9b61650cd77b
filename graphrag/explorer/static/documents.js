// The Documents tab: the list with status and errors, upload (drag and drop or pick),
// delete, re-extract, and the background jobs they start, polled until done.
import { call } from "./api.js";
import { clear, el } from "./text.js";

export function setupDocuments({ onChanged }) {
  const drop = document.getElementById("drop");
  const input = document.getElementById("file-input");
  const list = document.getElementById("documents");
  const jobList = document.getElementById("jobs");
  const counts = document.getElementById("doc-counts");
  const tracked = new Map(); // track id -> last known job
  let polling = null;

  function renderJobs() {
    const jobs = [...tracked.values()].sort((a, b) => b.created_at - a.created_at).slice(0, 8);
    clear(jobList, jobs.map((j) => {
      const end = j.finished_at || Date.now() / 1000;
      const secs = j.started_at ? ` ${(end - j.started_at).toFixed(1)} s` : "";
      const r = j.result || {};
      const what = j.kind === "index" && j.status === "done"
        ? ` · ${(r.documents_new || 0) + (r.documents_updated || 0)} new, ${r.chunks_extracted || 0} chunks, ${r.entities || 0} entities`
        : "";
      // A running job's stage and counts, as `graphrag index` prints them ("extract 12/40").
      const p = j.status === "running" && j.progress ? j.progress : null;
      const stage = p ? el("span", { class: "progress" }, ` · ${p.stage} ${p.total ? `${p.done}/${p.total}` : "…"}`) : null;
      return el("li", { class: "job", "data-track": j.track_id, "data-status": j.status },
        el("span", { class: `status ${j.status}` }, j.status), ` ${j.kind}${j.label ? ` ${j.label}` : ""}${secs}${what}`,
        stage, j.error ? el("div", { class: "error" }, j.error) : null);
    }));
  }

  async function refresh() {
    let data;
    try {
      data = await call("/documents");
    } catch (err) {
      counts.textContent = err.message;
      return;
    }
    for (const j of data.jobs) tracked.set(j.track_id, { ...tracked.get(j.track_id), ...j });
    counts.textContent = Object.entries(data.counts).map(([k, v]) => `${v} ${k}`).join(" · ");
    clear(list, data.documents.map((d) => el("li", { "data-id": d.id, "data-source": d.source, "data-status": d.status },
      el("span", { class: "actions" },
        el("button", { type: "button", title: "extract again with fresh model answers", onclick: () => reextract(d) }, "Re-extract"),
        el("button", { type: "button", class: "delete", title: "delete the document and exactly what it contributed",
          onclick: () => remove(d) }, "Delete")),
      el("div", { class: "name" }, d.title || d.source.split("/").pop()),
      el("span", { class: `status ${d.status}` }, d.status), el("span", { class: "muted" }, ` ${d.n_chunks} chunks`),
      d.error ? el("div", { class: "error" }, d.error) : null)));
    renderJobs();
  }

  async function poll() {
    const open = [...tracked.values()].filter((j) => j.status === "queued" || j.status === "running");
    for (const j of open) {
      try {
        tracked.set(j.track_id, { ...j, ...(await call(`/jobs/${encodeURIComponent(j.track_id)}`)) });
      } catch (_) { /* shown on the next refresh */ }
    }
    renderJobs();
    const still = [...tracked.values()].some((j) => j.status === "queued" || j.status === "running");
    if (open.length && !still) {
      await refresh();
      onChanged();
    }
    polling = still ? setTimeout(poll, 700) : null;
  }

  function track(job, label) {
    tracked.set(job.track_id, { status: "queued", created_at: Date.now() / 1000, kind: job.kind || "index", ...job, label });
    renderJobs();
    if (!polling) polling = setTimeout(poll, 300);
  }

  async function upload(files) {
    if (!files.length) return;
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    const names = [...files].map((f) => f.name).join(", ");
    try {
      const accepted = await call("/documents", { method: "POST", body: form });
      track({ track_id: accepted.track_id, kind: "index" }, names);
    } catch (err) {
      tracked.set(`upload-${Date.now()}`, { track_id: "", kind: "upload", status: "failed", label: names,
        error: err.message, created_at: Date.now() / 1000 });
      renderJobs();
    }
  }

  async function remove(doc) {
    if (!window.confirm(`Delete ${doc.title || doc.source} and everything only it contributed?`)) return;
    try {
      const answer = await call(`/documents/${encodeURIComponent(doc.id)}`, { method: "DELETE" });
      if (answer.status !== "done") track({ track_id: answer.track_id, kind: "delete" }, doc.title);
      await refresh();
      onChanged();
    } catch (err) {
      counts.textContent = err.message;
    }
  }

  async function reextract(doc) {
    try {
      const job = await call("/documents/reextract", { method: "POST", json: { document_ids: [doc.id] } });
      track(job, doc.title);
    } catch (err) {
      counts.textContent = err.message;
    }
  }

  drop.addEventListener("dragover", (evt) => { evt.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (evt) => {
    evt.preventDefault();
    drop.classList.remove("over");
    upload(evt.dataTransfer.files);
  });
  input.addEventListener("change", () => { upload(input.files); input.value = ""; });
  document.getElementById("doc-refresh").addEventListener("click", refresh);
  return { refresh };
}
