"""RFC 6962 (Certificate Transparency) Merkle trees: leaf and node hashing with the
0x00 and 0x01 prefixes, the tree hash of any number of leaves, and inclusion proofs.

Pure functions over bytes (SHA-256). ``MTH`` of n leaves splits at k, the largest
power of two smaller than n (RFC 6962 §2.1); the empty tree's hash is SHA-256 of
nothing. An inclusion proof (§2.1.1) lists sibling hashes from the leaf up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root_from_hashes(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf *hashes* (already ``leaf_hash``ed). Iterative, O(n)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root_from_hashes(leaves[:k]), root_from_hashes(leaves[k:]))


def tree_root(data: Sequence[bytes]) -> bytes:
    """MTH over leaf *data*."""
    return root_from_hashes([leaf_hash(d) for d in data])


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) over leaf hashes: the sibling hashes from the leaf up."""
    n = len(leaves)
    if not 0 <= index < n:
        raise IndexError(f"leaf {index} is not in a tree of {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root_from_hashes(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root_from_hashes(leaves[:k])]


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from leaf hash ``leaf`` at ``index`` in a tree
    of ``size`` leaves (RFC 9162 §2.1.3.2). Raises ValueError for a proof of the wrong
    length or an index outside the tree."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size}")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ValueError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("the proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    try:
        return root_from_inclusion(leaf, index, size, proof) == root
    except ValueError:
        return False
