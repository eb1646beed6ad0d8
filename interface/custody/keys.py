"""Ed25519 key files for custody signatures: the vehicle's key and the operators' keys.

A private key file is PEM (PKCS#8, unencrypted), mode 0600, readable by its owner only
(:func:`interface.signing.access_problem`); a public key file is PEM (SubjectPublicKeyInfo)
and may be read by anyone. A key is named by :func:`key_id`: the first 8 hex digits of the
SHA-256 of its 32 raw public bytes. Errors are :class:`interface.signing.KeyFileError`,
naming the file and never containing the key.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from interface.signing import (
    KeyFileError,
    access_problem,
    fingerprint,
    open_key_file,
    write_new_file,
)

__all__ = [
    "PEM_BEGIN",
    "generate_signing_key_file",
    "key_id",
    "load_public_key",
    "load_signing_key",
    "public_key_from_pem",
    "public_pem",
    "write_new_file",
]

#: How every PEM file starts.
PEM_BEGIN = b"-----BEGIN "
MAX_PEM_BYTES = 16384


def key_id(key: Ed25519PublicKey) -> str:
    """The key's name: first 8 hex digits of the SHA-256 of its raw public bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return fingerprint(raw)


def public_pem(key: Ed25519PublicKey) -> bytes:
    """The public key as PEM (SubjectPublicKeyInfo)."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_from_pem(data: bytes, where: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in PEM ``data`` (from ``where``, named in errors)."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyFileError(where, "is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(where, "is not an Ed25519 public key")
    return key


def generate_signing_key_file(path: Path) -> Ed25519PublicKey:
    """Write a new Ed25519 private key to ``path`` (PEM, mode 0600, never overwrites);
    return its public key."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_new_file(Path(path), pem, 0o600)
    return key.public_key()


def _read(path: Path, *, private: bool) -> bytes:
    fd = open_key_file(path)
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(path, "is not a regular file")
        problem = access_problem(path, info.st_mode) if private else None
        if problem is not None:
            raise KeyFileError(path, problem)
        try:
            data = stream.read(MAX_PEM_BYTES + 1)
        except OSError as exc:
            raise KeyFileError(path, f"not readable: {exc.strerror or exc}") from None
    if len(data) > MAX_PEM_BYTES:
        raise KeyFileError(path, f"is over {MAX_PEM_BYTES} bytes: not a key file")
    if not data.lstrip().startswith(PEM_BEGIN):
        raise KeyFileError(
            path, "is not a PEM key file (make one with: isru key generate --kind signing)"
        )
    return data


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``path``; refused when group or others may read it."""
    path = Path(path)
    data = _read(path, private=True)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyFileError(path, "is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(path, "is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in ``path``: a public key PEM, or the public half of a private
    key file (which must then be private to its owner)."""
    path = Path(path)
    data = _read(path, private=False)
    if b"PRIVATE KEY-----" in data:
        return load_signing_key(path).public_key()
    return public_key_from_pem(data, path)
