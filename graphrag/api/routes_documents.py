"""Documents: add (JSON text or file upload), list, get, delete, scan the configured folder.

Added text and files are written under `<workspace>/uploads/<content hash>/<name>` (the
same content always lands on the same path, so uploading it again costs nothing), checked
by the loader right away (a bad file is a 422 at once), then indexed by a background job
whose track id the response gives. Deletion also runs as a job, exactly like
`graphrag delete`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from graphrag.api.deps import ApiContext, get_ctx
from graphrag.api.job_kinds import discard_upload
from graphrag.api.models import (
    DeleteResponse,
    DocumentInfo,
    DocumentList,
    DocumentsAccepted,
    DocumentsRequest,
    JobInfo,
    ScanRequest,
)
from graphrag.ingest.load import SUPPORTED_SUFFIXES, load_source
from graphrag.models import DocumentRecord

router = APIRouter(tags=["documents"])

def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema with its local `$defs` references replaced by the definitions."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.rsplit("/", 1)[1]])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inline(DocumentsRequest.model_json_schema())},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                    "required": ["files"],
                }
            },
        },
    }
}


def _info(record: DocumentRecord) -> DocumentInfo:
    data = asdict(record)
    return DocumentInfo(**{k: data[k] for k in DocumentInfo.model_fields if k in data})


def _safe_name(name: str, default: str) -> str:
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")[:120]
    return base or default


def _store(ctx: ApiContext, name: str, data: bytes) -> Path:
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = ctx.upload_dir / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path.resolve()


def _discard(path: Path, ctx: ApiContext) -> None:
    discard_upload(path, ctx.upload_dir)


async def _incoming(request: Request) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each document of a JSON or multipart request."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
        if not files:
            raise HTTPException(422, "multipart upload without files: send them in the `files` field")
        return [(_safe_name(f.filename or "", "upload.txt"), await f.read()) for f in files]
    if content_type not in ("application/json", ""):
        raise HTTPException(415, "send application/json ({documents: [{text, title, source}]}) "
                                 "or multipart/form-data with `files`")
    try:
        raw = json.loads(await request.body())
        body = DocumentsRequest.model_validate(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(422, f"invalid JSON: {exc}") from exc
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise HTTPException(422, detail) from exc
    out = []
    for i, doc in enumerate(body.documents):
        text = doc.text if doc.title is None else f"# {doc.title}\n\n{doc.text}"
        name = _safe_name(doc.source or doc.title or "", f"text-{i}")
        if Path(name).suffix.lower() not in (".txt", ".md", ".markdown"):
            name += ".md" if doc.title is not None else ".txt"
        elif doc.title is not None and Path(name).suffix.lower() == ".txt":
            name = name[:-4] + ".md"
        out.append((name, text.encode("utf-8")))
    return out


@router.post(
    "/documents",
    status_code=202,
    response_model=DocumentsAccepted,
    summary="add documents (JSON text or file upload); indexed in the background",
    openapi_extra=_UPLOAD_BODY,
    responses={422: {"description": "invalid body, or a file that cannot be loaded (type, empty, binary, size)"},
               415: {"description": "unsupported content type"}},
)
async def add_documents(request: Request, ctx: ApiContext = Depends(get_ctx)) -> DocumentsAccepted:
    """Supported files: .txt .md .markdown .html .htm .pdf .jsonl. The response has the
    document ids (content hashes) and a track id to poll at GET /jobs/{track_id}."""
    incoming = await _incoming(request)
    paths: list[Path] = []
    ids: list[str] = []
    warnings: list[str] = []
    problems: list[str] = []
    for name, data in incoming:
        if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
            problems.append(f"{name}: unsupported file type; supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}")
            continue
        path = _store(ctx, name, data)
        loaded = load_source(path, ctx.settings)
        if loaded.status != "loaded" or not loaded.documents:
            problems.append(f"{name}: {loaded.reason or 'no documents in the file'}")
            _discard(path, ctx)
            continue
        warnings.extend(f"{name}: {e}" for e in loaded.errors)
        paths.append(path)
        ids.extend(d.id for d in loaded.documents)
    if problems:
        for path in paths:
            if ctx.rag.state.find_documents_by_source(str(path)) == []:
                _discard(path, ctx)
        raise HTTPException(422, "; ".join(problems))
    ids = list(dict.fromkeys(ids))
    job = ctx.jobs.submit("index", {"paths": [str(p) for p in paths]}, ids)
    return DocumentsAccepted(
        track_id=job.track_id, document_ids=ids, sources=[str(p) for p in paths],
        status_url=f"/jobs/{job.track_id}", warnings=warnings,
    )


@router.get("/documents", response_model=DocumentList, summary="documents with status, errors and counts")
def list_documents(status: str | None = None, ctx: ApiContext = Depends(get_ctx)) -> DocumentList:
    records = ctx.rag.status()
    counts = Counter(r.status for r in records)
    if status is not None:
        records = [r for r in records if r.status == status]
    return DocumentList(
        documents=[_info(r) for r in records],
        counts={"total": sum(counts.values()), **counts},
        jobs=[JobInfo(**j.to_dict()) for j in ctx.jobs.active()],
    )


@router.get("/documents/{document_id}", response_model=DocumentInfo, summary="one document",
            responses={404: {"description": "unknown document id"}})
def get_document(document_id: str, ctx: ApiContext = Depends(get_ctx)) -> DocumentInfo:
    record = ctx.rag.state.get_document(document_id)
    if record is not None:
        return _info(record)
    for job in ctx.jobs.active():
        if job.kind == "index" and document_id in job.document_ids:
            return DocumentInfo(id=document_id, source="", title="", status="queued")
    raise HTTPException(404, f"no document with id {document_id!r}; GET /documents lists them")


@router.delete(
    "/documents/{document_id}",
    response_model=DeleteResponse,
    summary="delete a document and exactly its contributions (like `graphrag delete`)",
    responses={202: {"description": "still deleting: poll the track id"}, 404: {"description": "unknown document id"}},
)
def delete_document(document_id: str, ctx: ApiContext = Depends(get_ctx)) -> Any:
    record = ctx.rag.state.get_document(document_id)
    if record is None:
        raise HTTPException(404, f"no document with id {document_id!r}; GET /documents lists them")
    job = ctx.jobs.submit("delete", {"refs": [document_id]}, [document_id])
    if job.done.wait(ctx.settings.api_wait_seconds) and job.status == "done":
        deleted = [DocumentInfo(**{k: d[k] for k in DocumentInfo.model_fields if k in d})
                   for d in (job.result or {}).get("deleted", [])]
        return DeleteResponse(track_id=job.track_id, status="done", deleted=deleted)
    if job.status == "failed":
        raise HTTPException(409 if "Locked" in (job.error or "") else 503, f"deletion failed: {job.error}")
    from fastapi.responses import JSONResponse

    return JSONResponse({"track_id": job.track_id, "status": job.status, "deleted": []}, status_code=202)


@router.post("/documents/scan", status_code=202, response_model=JobInfo,
             summary="ingest the configured folder (GRAPHRAG_API_SCAN_DIR) in the background",
             responses={400: {"description": "no scan folder configured"}})
def scan(body: ScanRequest | None = None, ctx: ApiContext = Depends(get_ctx)) -> JobInfo:
    folder = ctx.settings.api_scan_dir
    if folder is None:
        raise HTTPException(400, "no folder to scan: set GRAPHRAG_API_SCAN_DIR on the server")
    if not Path(folder).is_dir():
        raise HTTPException(400, f"the scan folder {folder} does not exist on the server")
    prune = body.prune if body is not None else False
    job = ctx.jobs.submit("scan", {"paths": [str(folder)], "prune": prune})
    return JobInfo(**job.to_dict())


class ReextractRequest(BaseModel):
    document_ids: list[str] | None = Field(default=None, description="ids or sources; omit with all=true")
    all: bool = Field(default=False, description="every indexed document (also moves the workspace to a changed model)")
    dry_run: bool = Field(default=False, description="only estimate: nothing is sent or changed")


@router.post("/documents/reextract", status_code=202, response_model=JobInfo,
             summary="extract documents again with fresh model answers (like `graphrag reextract`)",
             responses={422: {"description": "neither document_ids nor all, or both"},
                        404: {"description": "unknown document"}})
def reextract(body: ReextractRequest, ctx: ApiContext = Depends(get_ctx)) -> JobInfo:
    """The result (GET /jobs/{track_id}) has documents_reextracted, documents_failed and,
    with dry_run, the estimate."""
    if bool(body.document_ids) == body.all:
        raise HTTPException(422, "give document_ids or all=true (not both)")
    refs = None if body.all else list(body.document_ids or [])
    if refs is not None:
        ctx.rag.resolve_documents(refs)  # an unknown document is a 404 now, not a failed job later
    job = ctx.jobs.submit("reextract", {"refs": refs, "dry_run": body.dry_run}, refs or [])
    return JobInfo(**job.to_dict())
