"""Short names inside one passage: "David Hugh Jones ... Jones" speaks of one person.

A writer names someone in full once and shortens the name after ("Adolf Hitler ... Hitler",
"the Atlanta Braves ... the Braves"). Across a corpus the short name is ambiguous (which
Mandela: Nelson or Winnie?), so resolution leaves it apart; inside the passage that names
exactly one full form of it, it is not. The offline extractor folds such a mention into the
full name of its passage, so the short name never becomes an entity of its own there.

Only names that are shortened to a part (people, organisations), only a strict longer form
(`names.extends`: "Scrooge's nephew" and "Bank of England" are no longer forms), never a
woman's title beside another name ("Mrs. Cratchit" is as often Bob Cratchit's wife), and
only when the passage's longer forms agree (one extends the other): "Cratchit" beside "Bob
Cratchit" and "Martha Cratchit" stays as it is. A function of the passage alone.
"""

from __future__ import annotations

from collections.abc import Mapping

from graphrag.resolve.names import SHORTENABLE_FAMILIES, extends, genders_conflict, parse_name, type_family, wife_or_self


def short_name_targets(types: Mapping[str, str]) -> dict[str, str]:
    """`types`: entity key -> type of one passage. Returns short key -> the key of the one
    full name of the passage it is short for."""
    by_family: dict[str, list[str]] = {}
    for key, entity_type in types.items():
        family = type_family(entity_type)
        if family in SHORTENABLE_FAMILIES:
            by_family.setdefault(family, []).append(key)
    targets: dict[str, str] = {}
    for family, keys in by_family.items():
        forms = {k: parse_name(k, family) for k in keys}
        for key in sorted(keys):
            short = forms[key]
            longer = [
                k for k in keys
                if k != key and extends(short, forms[k])
                and not genders_conflict(short, forms[k]) and not wife_or_self(short, forms[k])
            ]
            if not longer:
                continue
            target = max(longer, key=lambda k: (len(forms[k].core), k))
            # Every longer form must be a form of the target's name, or the short one is ambiguous.
            if all(k == target or extends(forms[k], forms[target]) for k in longer):
                targets[key] = target
    # A chain ("Jones" -> "David Jones" -> "David Hugh Jones") ends at its longest name.
    for key, target in targets.items():
        seen = {key}
        while target in targets and target not in seen:
            seen.add(target)
            target = targets[target]
        targets[key] = target
    return targets
