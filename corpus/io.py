"""Opening inputs by URI: local paths and any scheme fsspec knows (s3, hdfs, http, gs...).

Local files are opened as they are. A remote file (any other scheme) is read through
`RangeReader`: its size is asked once, then its bytes are fetched by byte range, each range
retried on a transient failure (HTTP 5xx/408/429, a reset or refused connection, a timeout,
a transfer that ends short) with exponential backoff, resuming from the offset reached, at
most `RetryPolicy.attempts` times; then `RemoteReadError` is raised, which the ingest stage
records as a `reader_error` drop of that file (corpus.ingest.read_input). Nothing waits
forever: HTTP and S3 connections get `RetryPolicy.timeout` seconds to connect and the same
to deliver each piece of data. A range is complete only when all its bytes came, so a file
cut short is never taken for a whole one.

S3 and other endpoints are configured the way their fsspec filesystems are: environment
variables (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3`, `AWS_ACCESS_KEY_ID`, ...) or fsspec's
own configuration (`FSSPEC_S3_ENDPOINT_URL`, `~/.config/fsspec/*.json`).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import BinaryIO

import fsspec
from fsspec.compression import compr
from fsspec.utils import infer_compression

# Hadoop spells some schemes differently from fsspec; map them so one URI works for both.
_SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3"}
_LOCAL = ("file", "local")


class StorageError(ValueError):
    """A URI no filesystem here can open: an unknown scheme, or one whose package is missing."""


def filesystem(uri: str, **options):
    """(fsspec filesystem, path) for `uri`; a StorageError naming the URI and what to do when
    its scheme is unknown or needs a package that is not installed (s3fs for s3://...)."""
    try:
        return fsspec.core.url_to_fs(fsspec_uri(uri), **options)
    except ImportError as e:
        raise StorageError(f"{uri}: {e}".replace("\n", " ")) from e
    except ValueError as e:
        if "Protocol not known" not in str(e):
            raise
        scheme = uri.split("://", 1)[0]
        raise StorageError(f"{uri}: unknown URI scheme {scheme!r} (use a local path, file://, "
                           "http(s)://, s3://, s3a://, gs://, hdfs://... or another scheme fsspec "
                           "knows)") from e


@dataclass(frozen=True)
class RetryPolicy:
    """How a remote byte range is fetched: `attempts` tries in all, waiting `backoff`
    seconds after the first failure, twice that after the second... at most `max_backoff`;
    `timeout` seconds to connect and for each read to deliver data."""

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 8.0
    timeout: float = 60.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row (1, 2, ...)."""
        return min(self.backoff * 2 ** (failures - 1), self.max_backoff)


RETRY = RetryPolicy()
BUFFER_BYTES = 4 << 20   # reads smaller than this are served from one fetched block
MAX_FETCH_BYTES = 16 << 20  # the largest byte range asked for at once


class RemoteReadError(OSError):
    """A remote file that could not be read after every retry (or failed for good)."""


def fsspec_uri(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    if sep and scheme in _SCHEME_ALIASES:
        return f"{_SCHEME_ALIASES[scheme]}://{rest}"
    return uri


def is_local(uri: str) -> bool:
    scheme, sep, _ = uri.partition("://")
    return not sep or scheme.lower() in _LOCAL


def open_binary(uri: str, policy: RetryPolicy | None = None) -> BinaryIO:
    """A seekable binary stream over `uri`, without decompression. Caller closes it."""
    if is_local(uri):
        return fsspec.open(fsspec_uri(uri), "rb", compression=None).open()
    return open_remote(uri, policy)


def open_maybe_compressed(uri: str, policy: RetryPolicy | None = None) -> BinaryIO:
    """A binary stream over `uri`, decompressing by suffix (.gz, .bz2, .xz, .zst)."""
    if is_local(uri):
        return fsspec.open(fsspec_uri(uri), "rb", compression="infer").open()
    raw = open_remote(uri, policy)
    codec = infer_compression(uri)
    if codec is None:
        return raw
    stream = compr[codec](raw, mode="rb")
    close_stream = stream.close

    def close() -> None:  # the decompressor does not close the file it reads
        try:
            close_stream()
        finally:
            raw.close()
    stream.close = close
    return stream


def open_remote(uri: str, policy: RetryPolicy | None = None) -> BinaryIO:
    """A buffered, seekable stream over a remote file, read by retried byte ranges
    (`RangeReader`). A file whose size the server does not say is streamed by fsspec as it
    comes, without retries."""
    policy = policy or RETRY
    protocol = fsspec_uri(uri).split("://", 1)[0].lower()
    fs, path = filesystem(uri, **storage_options(protocol, policy))
    size = with_retries(lambda: fs.size(path), policy, f"{uri}: size")
    if size is None:
        return fs.open(path, "rb")
    return io.BufferedReader(RangeReader(fs, path, size, policy, uri), BUFFER_BYTES)


def storage_options(protocol: str, policy: RetryPolicy = RETRY) -> dict:
    """Timeouts for reading over `protocol`, added to what fsspec's configuration says
    (which wins where both set the same option)."""
    conf = fsspec.config.conf.get(protocol, {})
    if protocol in ("http", "https"):
        import aiohttp

        client = dict(conf.get("client_kwargs") or {})
        client.setdefault("timeout", aiohttp.ClientTimeout(
            total=None, sock_connect=policy.timeout, sock_read=policy.timeout))
        return {"client_kwargs": client}
    if protocol == "s3":
        config = dict(conf.get("config_kwargs") or {})
        config.setdefault("connect_timeout", policy.timeout)
        config.setdefault("read_timeout", policy.timeout)
        return {"config_kwargs": config}
    return {}


class RangeReader(io.RawIOBase):
    """The bytes of a remote file of known `size`, fetched by byte range on demand (at most
    MAX_FETCH_BYTES at once). A range is retried until all its bytes came: an answer with fewer
    bytes than asked is followed at once by a request for the rest, from the offset reached;
    a failed request (an error, a broken transfer, no bytes) counts against the policy's
    attempts and waits its backoff. A broken transfer loses the bytes of that request."""

    def __init__(self, fs, path: str, size: int, policy: RetryPolicy = RETRY, name: str = ""):
        super().__init__()
        self.fs, self.path, self.size, self.policy = fs, path, size, policy
        self.name, self.pos = name or path, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self.pos = base + offset
        return self.pos

    def readinto(self, buffer) -> int:
        want = min(len(buffer), self.size - self.pos, MAX_FETCH_BYTES)
        if want <= 0:
            return 0
        data = self.fetch(self.pos, self.pos + want)
        buffer[:want] = data
        self.pos += want
        return want

    def readall(self) -> bytes:
        chunks = []
        while chunk := self.read(MAX_FETCH_BYTES):
            chunks.append(chunk)
        return b"".join(chunks)

    def fetch(self, start: int, end: int) -> bytes:
        """Bytes [start, end) of the file, all of them, or RemoteReadError."""
        got = bytearray()
        failures = 0
        while True:
            offset = start + len(got)
            try:
                chunk = self.fs.cat_file(self.path, start=offset, end=end)
            except Exception as e:  # noqa: BLE001 - judged by transient()
                error: Exception = e
            else:
                if len(chunk) > end - offset:
                    raise RemoteReadError(f"{self.name}: asked for bytes {offset}-{end - 1}, got "
                                          f"{len(chunk)} bytes: the server ignores Range requests")
                got += chunk
                if len(got) == end - start:
                    return bytes(got)
                if chunk:  # fewer bytes than asked, well framed: ask for the rest at once
                    continue
                error = EOFError(f"no bytes from {offset} of {start}-{end - 1}")
            failures += 1
            if not transient(error) or failures >= self.policy.attempts:
                raise RemoteReadError(f"{self.name}: bytes {start}-{end - 1}: {failures} "
                                      f"tries failed; last: {type(error).__name__}: {error}") \
                    from error
            time.sleep(self.policy.delay(failures))


def with_retries(call, policy: RetryPolicy, what: str):
    """`call()`, retried as `RangeReader.fetch` retries a range."""
    failures = 0
    while True:
        try:
            return call()
        except Exception as e:  # noqa: BLE001 - judged by transient()
            failures += 1
            if not transient(e) or failures >= policy.attempts:
                raise RemoteReadError(f"{what}: {failures} tries failed; last: "
                                      f"{type(e).__name__}: {e}") from e
        time.sleep(policy.delay(failures))


_RETRIED_STATUS = {408, 425, 429}


def transient(error: BaseException) -> bool:
    """Whether a failure may pass when tried again: server errors (5xx), throttling, broken or
    timed-out connections, short transfers. Not a missing file, a denied one, or a bug. The
    whole chain is judged: fsspec's HTTP filesystem reports a failed size lookup of any kind as
    FileNotFoundError, caused by what actually happened."""
    root, depth = error, 0
    while depth < 8 and (root.__cause__ or (root.__context__ and not root.__suppress_context__)):
        root, depth = root.__cause__ or root.__context__, depth + 1
    status = _status(root)
    if status is not None:
        return status >= 500 or status in _RETRIED_STATUS
    if isinstance(root, (PermissionError, IsADirectoryError, NotADirectoryError,
                         RemoteReadError)):
        return False
    if isinstance(root, FileNotFoundError):
        return False
    if isinstance(root, (ValueError, TypeError, AttributeError, KeyError)):
        return _network_error(root)
    return True


def _status(error: BaseException) -> int | None:
    """The HTTP status an error carries (aiohttp's `status`, botocore's response), if any."""
    status = getattr(error, "status", None)
    if status is None:
        response = getattr(error, "response", None)
        if isinstance(response, dict):
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def _network_error(error: BaseException) -> bool:
    """aiohttp's payload errors are ValueErrors too; they are a broken transfer."""
    return type(error).__module__.startswith(("aiohttp", "botocore", "urllib3"))
