"""``python -m hub.keygen PATH``: make the checkpoint signing key, or show its public half.

Runs without Django settings (production settings refuse to load without a key):

- ``python -m hub.keygen PATH`` writes a new Ed25519 private key (PKCS8 PEM, mode
  0600) to PATH unless a file is already there, then prints the key id;
- ``python -m hub.keygen --public PATH`` prints the key id and the public key (PEM)
  of the private key at PATH: what ``HUB_SIGNING_PUBLIC_KEYS`` lists after a
  rotation, and what an outside verifier is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.config import generate_signing_key, signing_key_problem
from hub.record.canonical import key_id


def public_pem(path: Path) -> tuple[str, str]:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SystemExit(f"{path} is not an Ed25519 private key")
    public = key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return key_id(raw), pem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.keygen", description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--public", action="store_true", help="Print the public key only.")
    args = parser.parse_args(argv)
    path: Path = args.path
    if not args.public and not path.exists():
        generate_signing_key(path)
        print(f"wrote a new signing key to {path}", file=sys.stderr)
    problem = signing_key_problem(path)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    kid, pem = public_pem(path)
    if args.public:
        sys.stdout.write(pem)
    print(f"key id {kid}", file=sys.stderr if args.public else sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
