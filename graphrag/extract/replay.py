"""Replay extraction: entities and relations from recorded extractions, not from a model.

The records are HippoRAG's OpenIE output, one per passage:
`{"id", "entities": [...], "triples": [[subject, relation, object], ...]}` (jsonl), or the
`.json` files HippoRAG itself writes (`{"docs": [{"idx" | title + text | "passage",
"extracted_entities", "extracted_triples"}]}`). This measures the graph modes on real LLM
extractions without calling an LLM.

A chunk is matched to its record by its text: the record's own text when it has one,
else its id, which for MuSiQue-style corpora is `"p" + sha1(title + "\\n" + text)[:12]` of
the indexed passage (`aliases` may map other texts to record ids). Passages are expected
to fit in one chunk; a chunk with no record gets an empty extraction, and is counted.

HippoRAG's semantics are kept where they fit ours: a triple's subject and object are
entities (phrase nodes) related by the relation phrase; triples without exactly three
non-empty parts are skipped and counted, exact duplicates collapse. Every entity has type
ENTITY (OpenIE gives none); its description is the triples that mention it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphrag.errors import ConfigError
from graphrag.models import Chunk, ExtractedEntity, ExtractedRelation, Extraction, normalize_name

ENTITY_TYPE = "ENTITY"
# Bump when the mapping from records to extractions changes: stored records are keyed by it.
MAPPING_VERSION = "v1"


def passage_id(text: str) -> str:
    """MuSiQue/HippoRAG passage id of an indexed text (`title + "\\n" + text`)."""
    return "p" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class ReplayRecord:
    id: str
    entities: tuple[str, ...]
    triples: tuple[tuple[str, str, str], ...]
    malformed_triples: int = 0


@dataclass
class ReplayCounts:
    """What the file held, and what extraction did with it in this process."""

    records: int = 0
    bad_records: int = 0  # lines that are not a JSON object with an id
    triples: int = 0  # usable triples
    malformed_triples: int = 0  # not three non-empty parts: skipped
    duplicate_triples: int = 0
    chunks_matched: int = 0
    chunks_unmatched: int = 0  # got an empty extraction
    unmatched_examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class ReplayExtractor:
    """Implements `Extractor` from a file of recorded extractions."""

    def __init__(self, path: str | Path, aliases: Mapping[str, str] | None = None) -> None:
        self.path = Path(path).expanduser()
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the replay file {self.path} ({exc.strerror or exc}); "
                "use --extractor replay:PATH with a HippoRAG OpenIE .jsonl or .json file"
            ) from None
        self.counts = ReplayCounts()
        self.records: dict[str, ReplayRecord] = {}
        self._by_text: dict[str, str] = {}  # text -> record id, for records that carry their text
        self._load(data)
        self.aliases = dict(aliases or {})
        digest = hashlib.sha256(data).hexdigest()[:16]
        self.extractor_id = f"replay:{digest}:{MAPPING_VERSION}"
        if self.aliases:
            alias_digest = hashlib.sha256(
                json.dumps(sorted(self.aliases.items()), ensure_ascii=False).encode("utf-8")
            ).hexdigest()[:8]
            self.extractor_id += f":a{alias_digest}"

    # ------------------------------------------------------------------ loading
    def _load(self, data: bytes) -> None:
        text = data.decode("utf-8-sig", errors="replace")
        rows: Iterable[Any]
        if self.path.suffix.lower() == ".json":
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"replay file {self.path} is not valid JSON: {exc}") from None
            rows = parsed.get("docs", []) if isinstance(parsed, dict) else parsed
            if not isinstance(rows, list):
                raise ConfigError(f'replay file {self.path}: expected a list of records or {{"docs": [...]}}')
        else:
            rows = _jsonl_rows(text, self.counts)
        for row in rows:
            self._add(row)
        if not self.records:
            raise ConfigError(
                f"replay file {self.path} holds no usable record; expected one "
                '{"id", "entities", "triples"} object per line'
            )

    def _add(self, row: Any) -> None:
        if not isinstance(row, dict):
            self.counts.bad_records += 1
            return
        title, body = row.get("title"), row.get("text", row.get("passage"))
        own_text = None
        if isinstance(body, str):
            own_text = f"{title}\n{body}" if isinstance(title, str) and title else body
        record_id = row.get("id", row.get("idx"))
        if record_id is None and own_text is not None:
            record_id = passage_id(own_text)
        if record_id is None or isinstance(record_id, (dict, list)):
            self.counts.bad_records += 1
            return
        raw_entities = row.get("entities", row.get("extracted_entities")) or []
        raw_triples = row.get("triples", row.get("extracted_triples")) or []
        entities = tuple(dict.fromkeys(s for e in raw_entities if (s := _phrase(e))))
        triples: dict[tuple[str, str, str], None] = {}
        malformed = 0
        for triple in raw_triples if isinstance(raw_triples, list) else []:
            parts = [_phrase(p) for p in triple] if isinstance(triple, list) else []
            if len(parts) != 3 or not all(parts):
                malformed += 1
                continue
            key = (parts[0], parts[1], parts[2])
            if key in triples:
                self.counts.duplicate_triples += 1
            triples[key] = None
        record = ReplayRecord(str(record_id), entities, tuple(triples), malformed)
        self.records[record.id] = record
        if own_text is not None:
            self._by_text[own_text] = record.id
        self.counts.records += 1
        self.counts.triples += len(record.triples)
        self.counts.malformed_triples += malformed

    # ------------------------------------------------------------------ extraction
    def match(self, text: str) -> ReplayRecord | None:
        """The record of the passage whose indexed text is `text`, if any."""
        record_id = self._by_text.get(text) or self.aliases.get(text) or passage_id(text)
        return self.records.get(record_id)

    async def extract(self, chunks: Sequence[Chunk]) -> dict[str, Extraction | Exception]:
        results: dict[str, Extraction | Exception] = {}
        for chunk in chunks:
            record = self.match(chunk.text)
            if record is None:
                self.counts.chunks_unmatched += 1
                if len(self.counts.unmatched_examples) < 5:
                    self.counts.unmatched_examples.append(chunk.text[:80])
                results[chunk.id] = Extraction()
            else:
                self.counts.chunks_matched += 1
                results[chunk.id] = extraction_from_record(record)
        return results


def extraction_from_record(record: ReplayRecord) -> Extraction:
    """Entities: the listed ones and every triple's subject and object; relations: one per
    triple between two different entities, keyed by the relation phrase."""
    facts: dict[str, list[str]] = {}  # entity key -> sentences of the triples naming it
    names: dict[str, str] = {}  # entity key -> first spelling seen
    relations: list[ExtractedRelation] = []
    for subject, relation, obj in record.triples:
        sentence = f"{subject} {relation} {obj}"
        for name in (subject, obj):
            key = normalize_name(name)
            if key:
                names.setdefault(key, name)
                facts.setdefault(key, [])
                if sentence not in facts[key]:
                    facts[key].append(sentence)
        s, o = normalize_name(subject), normalize_name(obj)
        if s and o and s != o:
            relations.append(ExtractedRelation(source=subject, target=obj, keywords=[relation], description=sentence))
    for name in record.entities:
        key = normalize_name(name)
        if key:
            names.setdefault(key, name)
            facts.setdefault(key, [])
    entities = [
        ExtractedEntity(name=names[key], type=ENTITY_TYPE, description="; ".join(facts[key]))
        for key in names
    ]
    return Extraction(entities=entities, relations=relations)


def _phrase(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return " ".join(str(value).split())


def _jsonl_rows(text: str, counts: ReplayCounts) -> Iterable[Any]:
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            counts.bad_records += 1
