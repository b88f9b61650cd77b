"""The replay extractor: recorded OpenIE triples become entities and relations."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest

from graphrag.errors import ConfigError
from graphrag.extract.factory import build_extractor
from graphrag.extract.replay import ENTITY_TYPE, ReplayExtractor, passage_id
from graphrag.merge import record_keys
from graphrag.models import Chunk, chunk_id, normalize_name
from graphrag.settings import Settings

TEXT = "Peter Bonetti\nPeter Bonetti (born 27 September 1941) is a former goalkeeper for Chelsea."
RECORD = {
    "id": passage_id(TEXT),
    "entities": ["Peter Bonetti", "Chelsea", "27 September 1941", "Putney"],
    "triples": [
        ["Peter Bonetti", "born on", "27 September 1941"],
        ["Peter Bonetti", "played for", "Chelsea"],
        ["Peter Bonetti", "played for", "Chelsea"],  # duplicate
        ["Peter Bonetti", "is", "goalkeeper", "former"],  # four parts
        ["Chelsea", "football club"],  # two parts
        ["Peter Bonetti", " ", "Chelsea"],  # empty relation
        ["Bonetti", "is", "bonetti"],  # one entity: no relation
    ],
}


def _chunk(text: str) -> Chunk:
    return Chunk(id=chunk_id("doc", text), document_id="doc", text=text, order=0, n_tokens=0)


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_passage_id_is_musiques():
    assert passage_id("T\nx") == "p" + hashlib.sha1(b"T\nx").hexdigest()[:12]


def test_triples_become_relations_and_their_ends_entities(tmp_path):
    extractor = ReplayExtractor(_write(tmp_path / "openie.jsonl", [RECORD]))
    chunk = _chunk(TEXT)
    extraction = asyncio.run(extractor.extract([chunk]))[chunk.id]

    entities = {normalize_name(e.name): e for e in extraction.entities}
    assert set(entities) == {"peter bonetti", "chelsea", "27 september 1941", "putney", "bonetti"}
    assert {e.type for e in extraction.entities} == {ENTITY_TYPE}
    assert entities["chelsea"].description == "Peter Bonetti played for Chelsea"
    assert entities["putney"].description == ""  # listed, in no triple
    relations = [(r.source, r.target, r.keywords, r.description) for r in extraction.relations]
    assert relations == [
        ("Peter Bonetti", "27 September 1941", ["born on"], "Peter Bonetti born on 27 September 1941"),
        ("Peter Bonetti", "Chelsea", ["played for"], "Peter Bonetti played for Chelsea"),
    ]
    counts = extractor.counts
    assert (counts.records, counts.triples, counts.malformed_triples, counts.duplicate_triples) == (1, 3, 3, 1)
    assert (counts.chunks_matched, counts.chunks_unmatched) == (1, 0)
    _, relation_keys = record_keys(extraction)
    assert len(relation_keys) == 2


def test_a_chunk_without_a_record_gets_an_empty_extraction_and_is_counted(tmp_path):
    extractor = ReplayExtractor(_write(tmp_path / "openie.jsonl", [RECORD]))
    chunk = _chunk("Another passage\nwith no record.")
    extraction = asyncio.run(extractor.extract([chunk]))[chunk.id]
    assert extraction.entities == [] and extraction.relations == []
    assert extractor.counts.chunks_unmatched == 1
    assert extractor.counts.unmatched_examples == ["Another passage\nwith no record."]


def test_the_extractor_id_hashes_the_file(tmp_path):
    a = ReplayExtractor(_write(tmp_path / "a.jsonl", [RECORD]))
    same = ReplayExtractor(_write(tmp_path / "b.jsonl", [RECORD]))
    changed = ReplayExtractor(_write(tmp_path / "c.jsonl", [{**RECORD, "triples": RECORD["triples"][:1]}]))
    assert a.extractor_id.startswith("replay:")
    assert a.extractor_id == same.extractor_id != changed.extractor_id
    aliased = ReplayExtractor(tmp_path / "a.jsonl", aliases={"other text": RECORD["id"]})
    assert aliased.extractor_id != a.extractor_id
    assert aliased.match("other text") is not None


def test_hipporags_own_json_with_passage_texts_is_read_too(tmp_path):
    docs = {"docs": [{"title": "Peter Bonetti", "text": TEXT.split("\n", 1)[1],
                      "extracted_entities": ["Chelsea"], "extracted_triples": [["Peter Bonetti", "played for", "Chelsea"]]},
                     {"idx": "x1", "passage": "Some passage.", "extracted_entities": ["Somebody"], "extracted_triples": []}]}
    path = tmp_path / "openie_results.json"
    path.write_text(json.dumps(docs), encoding="utf-8")
    extractor = ReplayExtractor(path)
    assert extractor.match(TEXT).id == passage_id(TEXT)
    assert extractor.match("Some passage.").id == "x1"
    assert extractor.match("unknown") is None


def test_bad_lines_are_counted_and_an_unusable_file_is_refused(tmp_path):
    path = tmp_path / "openie.jsonl"
    path.write_text("not json\n[1, 2]\n" + json.dumps(RECORD) + "\n", encoding="utf-8")
    assert ReplayExtractor(path).counts.bad_records == 2
    path.write_text("not json\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no usable record"):
        ReplayExtractor(path)
    with pytest.raises(ConfigError, match="cannot read the replay file"):
        ReplayExtractor(tmp_path / "missing.jsonl")


def test_the_factory_builds_it_from_the_extractor_setting(tmp_path):
    path = _write(tmp_path / "openie.jsonl", [RECORD])
    extractor = build_extractor(Settings(workspace=tmp_path / "ws", extractor=f"replay:{path}"), None)
    assert isinstance(extractor, ReplayExtractor)


def test_indexing_with_replay_builds_the_graph_of_the_triples(make_settings, write_docs, tmp_path):
    from graphrag.core import GraphRAG

    path = _write(tmp_path / "openie.jsonl", [RECORD])
    settings = make_settings(extractor=f"replay:{path}", chunk_size=1200, chunk_overlap=100)
    with GraphRAG(settings) as rag:
        rag.__dict__["chat"] = None
        rag.index(write_docs({"bonetti": TEXT}))
        assert rag.graph.get_entities(["peter bonetti"])["peter bonetti"].type == ENTITY_TYPE
        assert rag.stats()["relations"] == 2
