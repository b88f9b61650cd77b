"""Storage backends behind the protocols in `graphrag.stores.base`."""
