"""Opening inputs by URI: local paths and any scheme fsspec knows (s3, hdfs, http, gs...)."""

from __future__ import annotations

from typing import BinaryIO

import fsspec

# Hadoop spells some schemes differently from fsspec; map them so one URI works for both.
_SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3"}


def fsspec_uri(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    if sep and scheme in _SCHEME_ALIASES:
        return f"{_SCHEME_ALIASES[scheme]}://{rest}"
    return uri


def open_binary(uri: str) -> BinaryIO:
    """A seekable binary stream over `uri`, without decompression. Caller closes it."""
    return fsspec.open(fsspec_uri(uri), "rb", compression=None).open()


def open_maybe_compressed(uri: str) -> BinaryIO:
    """A binary stream over `uri`, decompressing by suffix (.gz, .bz2, .xz, .zst)."""
    return fsspec.open(fsspec_uri(uri), "rb", compression="infer").open()
