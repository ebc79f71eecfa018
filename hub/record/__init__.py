"""The record's verifiable formats, with no Django in them: the canonical forms of
events and checkpoints (``canonical``), RFC 6962 Merkle trees (``merkle``), and the
offline verifier of exports. ``docs/record.md`` specifies every byte."""
