"""Input specs (`KIND:URI`) and the listing of the files they name, done on the driver.

A URI may be a file, a folder (searched recursively), a glob, or a Common Crawl
`*.paths.gz` listing, on any filesystem fsspec can open. A bare path ending in `.warc.gz`,
`.warc`, `.arc.gz`, `.arc`, `.wet.gz` (or a `warc.paths.gz`/`wet.paths.gz` listing) needs no KIND.

Every listed URI is normalized (see `normalize_uri`), because document ids derive from it:
the same file named twice (two specs, a folder and a file in it, `a/x/../x/f`) is listed
once, and two files are listed under two URIs.
"""

from __future__ import annotations

import gzip
import os
import posixpath
import re
from dataclasses import dataclass


from corpus.io import filesystem

KINDS = ("warc", "wet", "books", "news", "forums", "jsonl", "parquet")
_SUFFIX_KINDS = ((".wet.gz", "wet"), (".wet", "wet"), (".warc.gz", "warc"), (".warc", "warc"),
                 (".arc.gz", "warc"), (".arc", "warc"),  # the WARC reader reads ARC files too
                 ("wet.paths.gz", "wet"), ("warc.paths.gz", "warc"))
# Files a folder listing skips: hidden files, Spark/Hadoop bookkeeping, checksums.
_SKIP_PREFIXES = (".", "_")


class InputError(ValueError):
    """An input spec that names nothing readable."""


@dataclass(frozen=True, order=True)
class InputFile:
    kind: str
    uri: str


def parse_spec(spec: str) -> tuple[str, str]:
    """Split `KIND:URI`; infer KIND from a bare path's suffix."""
    head, colon, rest = spec.partition(":")
    if colon and head in KINDS:
        return head, rest
    for suffix, kind in _SUFFIX_KINDS:
        if spec.lower().endswith(suffix):
            return kind, spec
    raise InputError(
        f"input {spec!r}: prefix a kind ({', '.join(KINDS)}), e.g. books:{spec}"
    )


def normalize_uri(uri: str) -> str:
    """The one spelling of a file's URI that ids are built on.

    Local paths (bare or `file://`) become absolute with symlinks resolved (`os.path.realpath`):
    `..` then means what it means to the OS (a lexical `a/link/..` can name another folder), and
    a file reached through a symlink is the same file. Remote URIs are normalized lexically
    (nothing can be asked of the store): scheme lower-cased, runs of `/` in the path collapsed,
    `.` and `..` resolved; query and fragment are kept as they are."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.lower() == "file":
        return os.path.realpath(rest if sep else uri)
    host, slash, path = rest.partition("/")
    path, q, query = path.partition("?")
    path = posixpath.normpath("/" + re.sub("/+", "/", path)).lstrip("/") if path else ""
    return f"{scheme.lower()}://{host}{slash}{path}{q}{query}"


def list_inputs(specs: list[str], cc_prefix: str = "https://data.commoncrawl.org/") -> list[InputFile]:
    """Every file the specs name, normalized, deduplicated and sorted (so task order is
    stable); a file named under two kinds is an error (its documents would be read twice)."""
    kinds: dict[str, str] = {}
    for spec in specs:
        kind, uri = parse_spec(spec)
        found = _expand(uri, cc_prefix)
        if not found:
            raise InputError(f"input {spec!r} matches no file")
        for u in map(normalize_uri, found):
            if kinds.setdefault(u, kind) != kind:
                raise InputError(f"input {u} is named as both {kinds[u]} and {kind}")
    return sorted(InputFile(kind, u) for u, kind in kinds.items())


def _expand(uri: str, cc_prefix: str) -> list[str]:
    fs, path = filesystem(uri)
    scheme = uri.split("://", 1)[0] if "://" in uri else None

    def as_uri(p: str) -> str:
        if "://" in p:  # HTTP's paths are whole URLs already
            return p
        return f"{scheme}://{p}" if scheme and scheme != "file" else p

    if path.endswith(".paths.gz"):
        return _read_listing(fs, path, cc_prefix)
    if scheme in ("http", "https") and not path.endswith("/"):
        # a file: asking HTTP whether it is a folder would download it to look for links
        try:
            fs.info(path)  # HEAD
        except FileNotFoundError:
            return []
        return [uri]
    if any(ch in path for ch in "*?["):
        paths = fs.glob(path)
    elif fs.isdir(path):
        paths = fs.find(path)
    elif fs.exists(path):
        paths = [path]
    else:
        return []
    return [as_uri(p) for p in paths
            if not posixpath.basename(p).startswith(_SKIP_PREFIXES) and not fs.isdir(p)]


def _read_listing(fs, path: str, cc_prefix: str) -> list[str]:
    """Entries of a Common Crawl `*.paths.gz` file; relative ones are resolved against
    `cc_prefix` (the public bucket over HTTPS by default; `s3://commoncrawl/` on AWS)."""
    with fs.open(path, "rb") as f, gzip.open(f, "rt", encoding="utf-8") as lines:
        entries = [ln.strip() for ln in lines if ln.strip()]
    return [e if "://" in e else cc_prefix.rstrip("/") + "/" + e.lstrip("/") for e in entries]
