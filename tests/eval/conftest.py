"""A tiny multi-hop dataset in the MuSiQue folder format, written per test."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

PASSAGES = [
    ("Alan Turing", "Alan Turing was born in Maida Vale, London. Turing studied mathematics at King's College, Cambridge."),
    ("King's College, Cambridge", "King's College is a college of the University of Cambridge. King Henry VI founded King's College in 1441."),
    ("Henry VI of England", "Henry VI was King of England from 1422 to 1461. Henry VI was the son of Henry V."),
    ("Ada Lovelace", "Ada Lovelace was an English mathematician. Ada Lovelace worked with Charles Babbage on the Analytical Engine."),
    ("Charles Babbage", "Charles Babbage was born in London in 1791. Babbage designed the Difference Engine."),
    ("Grace Hopper", "Grace Hopper was an American computer scientist. Grace Hopper developed COBOL while serving in the United States Navy."),
    ("COBOL", "COBOL is a programming language for business use. The Conference on Data Systems Languages designed COBOL in 1959."),
    ("Paris", "Paris is the capital of France. The Eiffel Tower stands in Paris on the Seine."),
    ("Mount Everest", "Mount Everest is the highest mountain on Earth. Edmund Hillary and Tenzing Norgay first climbed Mount Everest in 1953."),
    ("Amazon River", "The Amazon River flows through Brazil and Peru into the Atlantic Ocean."),
]

# (question, answers, titles of the gold passages, type)
QUESTIONS = [
    ("Who founded the college where Alan Turing studied?", ["Henry VI", "King Henry VI"], ["Alan Turing", "King's College, Cambridge"], "2hop"),
    ("Where was the man who worked with Ada Lovelace on the Analytical Engine born?", ["London"], ["Ada Lovelace", "Charles Babbage"], "2hop"),
    ("In what year was the language developed by Grace Hopper designed?", ["1959"], ["Grace Hopper", "COBOL"], "2hop"),
    ("Who was the father of the king who founded King's College, Cambridge?", ["Henry V"], ["King's College, Cambridge", "Henry VI of England"], "2hop"),
]


def passage_id(title: str, text: str) -> str:
    return "p" + hashlib.sha1(f"{title}\n{text}".encode()).hexdigest()[:12]


def write_dataset(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ids = {title: passage_id(title, text) for title, text in PASSAGES}
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for title, text in sorted(PASSAGES, key=lambda p: ids[p[0]]):
            fh.write(json.dumps({"id": ids[title], "title": title, "text": text}) + "\n")
    with (folder / "questions.jsonl").open("w", encoding="utf-8") as fh:
        for n, (question, answers, gold, type_) in enumerate(QUESTIONS):
            row = {"id": f"q{n}", "question": question, "answers": answers, "gold_passage_ids": [ids[t] for t in gold], "type": type_}
            fh.write(json.dumps(row) + "\n")
    return folder


# Recorded "OpenIE" for every passage but the Amazon one; two malformed triples, one duplicate.
OPENIE = {
    "Alan Turing": (["Alan Turing", "Maida Vale", "London", "King's College, Cambridge"],
                    [["Alan Turing", "born in", "Maida Vale, London"], ["Alan Turing", "studied at", "King's College, Cambridge"],
                     ["Alan Turing", "studied"]]),
    "King's College, Cambridge": (["King's College", "University of Cambridge", "Henry VI", "1441"],
                                  [["King's College", "college of", "University of Cambridge"], ["Henry VI", "founded", "King's College"],
                                   ["King's College", "founded in", "1441"], ["Henry VI", "founded", "King's College"]]),
    "Henry VI of England": (["Henry VI", "England", "Henry V"],
                            [["Henry VI", "king of", "England"], ["Henry VI", "son of", "Henry V"]]),
    "Ada Lovelace": (["Ada Lovelace", "Charles Babbage", "Analytical Engine"],
                     [["Ada Lovelace", "worked with", "Charles Babbage"], ["Ada Lovelace", "worked on", "Analytical Engine"]]),
    "Charles Babbage": (["Charles Babbage", "London", "1791", "Difference Engine"],
                        [["Charles Babbage", "born in", "London"], ["Charles Babbage", "designed", "Difference Engine"]]),
    "Grace Hopper": (["Grace Hopper", "COBOL", "United States Navy"],
                     [["Grace Hopper", "developed", "COBOL"], ["Grace Hopper", "served in", "United States Navy", "extra"]]),
    "COBOL": (["COBOL", "1959", "CODASYL"], [["COBOL", "designed in", "1959"], ["CODASYL", "designed", "COBOL"]]),
    "Paris": (["Paris", "France", "Eiffel Tower"], [["Paris", "capital of", "France"], ["Eiffel Tower", "stands in", "Paris"]]),
    "Mount Everest": (["Mount Everest", "Edmund Hillary", "Tenzing Norgay"],
                      [["Edmund Hillary", "climbed", "Mount Everest"], ["Tenzing Norgay", "climbed", "Mount Everest"]]),
}


def write_openie(path: Path) -> Path:
    texts = dict(PASSAGES)
    with path.open("w", encoding="utf-8") as fh:
        for title, (entities, triples) in OPENIE.items():
            fh.write(json.dumps({"id": passage_id(title, texts[title]), "entities": entities, "triples": triples}) + "\n")
    return path


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "tiny")


@pytest.fixture
def tiny_openie(tmp_path: Path) -> Path:
    return write_openie(tmp_path / "openie.jsonl")
