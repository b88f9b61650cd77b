"""Entity resolution: which extracted names denote one entity.

`names` parses a name into what comparison needs, `duplicates` measures what is left to
resolve, `resolver` decides on insert which names are aliases of one entity, `adjudicate`
asks the chat model about the pairs string evidence leaves uncertain, `apply` turns the
decisions into graph changes, `operations` holds a person's merges and splits.
"""
