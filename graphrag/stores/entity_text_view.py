"""The searchable text of every entity of an in-memory graph, laid out for substring search.

Names, aliases and descriptions, lower-cased, each field joined into one string with a
separator no text contains, so finding the entities whose field contains a needle is a few
`str.find` scans in C, not a Python loop over every entity (100k entities: milliseconds
instead of seconds). Built once from the graph and kept by the store until an entity changes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

from graphrag.models import normalize_name

_SEP = "\x00"  # between rows; cleaned names and descriptions hold no control characters
_ALIAS_SEP = "\x01"  # between the aliases of one row


def _clean(text: str) -> str:
    return text.lower().replace(_SEP, " ").replace(_ALIAS_SEP, " ")


class _Column:
    def __init__(self, values: list[str]) -> None:
        self.text = _SEP.join(values)
        self.starts: list[int] = []
        at = 0
        for value in values:
            self.starts.append(at)
            at += len(value) + 1

    def containing(self, needle: str) -> list[int]:
        """Rows whose value contains `needle` (non-empty, no separator), in row order."""
        rows: list[int] = []
        starts, find = self.starts, self.text.find
        at = find(needle)
        while at >= 0:
            row = bisect_right(starts, at) - 1
            rows.append(row)
            if row + 1 >= len(starts):
                break
            at = find(needle, starts[row + 1])  # the next row: one hit per row is enough
        return rows


class EntityTextView:
    """Row i: `keys[i]`, its type, lower-cased name, aliases and description."""

    def __init__(self, rows: Iterable[tuple[str, str, str, str, Iterable[str]]]) -> None:
        """`rows`: (key, name, type, description, alias names) per entity."""
        self.keys: list[str] = []
        self.types: list[str] = []
        self.names: list[str] = []
        self.aliases: list[tuple[str, ...]] = []
        descriptions: list[str] = []
        for key, name, type_, description, aliases in rows:
            self.keys.append(key)
            self.types.append(type_)
            self.names.append(_clean(name))
            self.aliases.append(tuple(_clean(a) for a in aliases))
            descriptions.append(_clean(description))
        # Entity keys and alias keys (normalised names) -> rows: a name key can match where
        # no substring does ("Tiny-Tim" is the key "tiny tim").
        self.rows_of_key: dict[str, list[int]] = {}
        for i, key in enumerate(self.keys):
            self.rows_of_key.setdefault(key, []).append(i)
            for alias_key in {normalize_name(a) for a in self.aliases[i]}:
                if alias_key != key:
                    self.rows_of_key.setdefault(alias_key, []).append(i)
        self._columns = {
            "name": _Column(self.names),
            "alias": _Column([_ALIAS_SEP.join(a) for a in self.aliases]),
            "description": _Column(descriptions),
        }

    def __len__(self) -> int:
        return len(self.keys)

    def containing(self, needle: str, column: str) -> list[int]:
        """Rows whose `column` ("name", "alias" or "description") contains `needle`."""
        needle = needle.lower()
        if not needle or _SEP in needle or _ALIAS_SEP in needle:
            return []
        return self._columns[column].containing(needle)
