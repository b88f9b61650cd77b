"""Two long-lived handles on one workspace (say the API and a scheduled flow): each sees
the other's writes and never overwrites them with a stale in-memory graph."""


def test_a_second_handle_sees_and_keeps_the_other_handles_writes(make_rag, write_docs, sample_texts):
    a, b, c = write_docs(sample_texts)
    api = make_rag("shared")
    flow = make_rag("shared")
    api.index([a])
    api.retrieve("Who is Scrooge?", mode="naive")  # loads graph and vectors into this process

    flow.index([b])
    seen = {c.document_id for c in api.retrieve("Who is Scrooge?", mode="naive", top_k=50).chunks}
    assert len(seen) == 2, "the query handle must notice the other writer's documents"

    api.index([c])  # must start from the graph on disk, not its stale copy
    keys_api = {e.key for e in api.graph.iter_entities()}
    fresh = make_rag("fresh")
    fresh.index([a, b, c])
    assert keys_api == {e.key for e in fresh.graph.iter_entities()}
    flow.graph.reload()
    assert {e.key for e in flow.graph.iter_entities()} == keys_api
