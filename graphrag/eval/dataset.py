"""An evaluation dataset: a folder with `corpus.jsonl` and `questions.jsonl`.

corpus.jsonl:    {"id", "title", "text"} per passage; indexed as `title + "\\n" + text`.
questions.jsonl: {"id", "question", "answers": [...], "gold_passage_ids": [...], "type"?}.
Other fields (MuSiQue's `decomposition`) are kept out of reach of the system under test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from graphrag.errors import ConfigError

CORPUS_FILE = "corpus.jsonl"
QUESTIONS_FILE = "questions.jsonl"


@dataclass(frozen=True)
class Passage:
    id: str
    title: str
    text: str

    @property
    def indexed_text(self) -> str:
        """What a document holds: the jsonl loader composes `title + "\\n" + text` too."""
        return f"{self.title}\n{self.text}" if self.title else self.text


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    gold_passage_ids: tuple[str, ...]
    type: str = ""


@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path
    passages: tuple[Passage, ...]
    questions: tuple[Question, ...]

    def sliced(self, questions: int | None = None, passages: int | None = None) -> "Dataset":
        """The first `questions` questions, over a corpus of their gold passages plus the
        first other passages (in corpus order) up to `passages` in all. Deterministic, so
        a slice is comparable from run to run."""
        kept = self.questions[:questions] if questions is not None else self.questions
        if passages is None:
            return Dataset(self.name, self.path, self.passages, kept)
        gold = {pid for q in kept for pid in q.gold_passage_ids}
        room = max(passages - len(gold), 0)
        others = [p.id for p in self.passages if p.id not in gold][:room]
        keep = gold | set(others)
        return Dataset(self.name, self.path, tuple(p for p in self.passages if p.id in keep), kept)


def load_dataset(path: str | Path) -> Dataset:
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder; an evaluation dataset is a folder with {CORPUS_FILE} and {QUESTIONS_FILE}")
    passages = tuple(_passage(row, where) for row, where in _rows(root / CORPUS_FILE))
    questions = tuple(_question(row, where) for row, where in _rows(root / QUESTIONS_FILE))
    ids = [p.id for p in passages]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise ConfigError(f"{root / CORPUS_FILE}: passage id {duplicate!r} appears more than once")
    known = set(ids)
    for q in questions:
        missing = [pid for pid in q.gold_passage_ids if pid not in known]
        if missing:
            raise ConfigError(f"{root / QUESTIONS_FILE}: question {q.id!r} names gold passages {missing} not in the corpus")
    if not questions:
        raise ConfigError(f"{root / QUESTIONS_FILE} holds no question")
    return Dataset(root.resolve().name, root, passages, questions)


def _rows(path: Path) -> list[tuple[dict, str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing; an evaluation dataset has {CORPUS_FILE} and {QUESTIONS_FILE}") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{where}: expected a JSON object")
        rows.append((row, where))
    return rows


def _text(row: dict, key: str, where: str, *, required: bool = True) -> str:
    value = row.get(key)
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and key == "id":
        return str(value)
    if not isinstance(value, str) or (required and not value.strip()):
        raise ConfigError(f'{where}: "{key}" must be a non-empty string')
    return value


def _passage(row: dict, where: str) -> Passage:
    return Passage(_text(row, "id", where), _text(row, "title", where, required=False).strip(), _text(row, "text", where))


def _question(row: dict, where: str) -> Question:
    answers = row.get("answers", [])
    gold = row.get("gold_passage_ids", [])
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise ConfigError(f'{where}: "answers" must be a list of strings')
    if not isinstance(gold, list) or not gold or not all(isinstance(g, str) for g in gold):
        raise ConfigError(f'{where}: "gold_passage_ids" must be a non-empty list of passage ids')
    return Question(
        id=_text(row, "id", where),
        question=_text(row, "question", where),
        answers=tuple(answers),
        gold_passage_ids=tuple(dict.fromkeys(gold)),
        type=str(row.get("type") or ""),
    )
