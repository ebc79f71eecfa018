"""Events: the append-only, sequenced, hash-chained record every change goes through."""
