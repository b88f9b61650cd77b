"""Entity resolution: which extracted names denote one entity.

`names` parses a name into what comparison needs, `duplicates` measures what is left to
resolve, `resolver` decides on insert which names are aliases of one entity.
"""
