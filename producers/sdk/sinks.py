"""Where batches go: one small protocol, five implementations.

A sink only talks to its destination. It gets records already batched within
the PutRecords limits and answers, per record, None when it was stored or an
error code when it was not; a failure of the whole call is a raised SinkError
that says whether trying again can help. Batching, retries and accounting are
the worker's, never a sink's.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import orjson

from ottlake.errors import ProducerError
from producers.sdk.records import Record


@runtime_checkable
class Sink(Protocol):
    def send(self, records: Sequence[Record]) -> Sequence[str | None]:
        """Store `records` in order; per record, None on success or an error code.

        Raise SinkError when the whole call failed.
        """
        ...


class SinkError(ProducerError):
    """A whole send failed; `retryable` says whether the same call may succeed later."""

    def __init__(self, message: str, *, retryable: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


# Whole-call errors worth another try: throttling and the service's own failures
# (the same families botocore's retry handler treats as transient).
_RETRYABLE_CODES = frozenset({
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "LimitExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "KMSThrottlingException",
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
})


def _kinesis_error(exc: Exception) -> SinkError:
    """Classify a boto3 failure of a whole PutRecords call."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, IncompleteReadError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        retryable = code in _RETRYABLE_CODES or status == 429 or status >= 500
        return SinkError(f"{code}: {error.get('Message', exc)}", retryable=retryable, code=code)
    network = isinstance(exc, (ConnectionError, HTTPClientError, IncompleteReadError))
    return SinkError(f"{type(exc).__name__}: {exc}", retryable=network, code=type(exc).__name__)


class KinesisSink:
    """PutRecords to one Kinesis data stream.

    The boto3 client is the caller's (for example `AwsTarget.client("kinesis")`),
    so credentials, endpoint and botocore's own retry settings stay theirs; the
    tracker retries on top only what comes back failed.
    """

    def __init__(self, client: Any, stream_name: str) -> None:
        self._client = client
        self._stream_name = stream_name

    def send(self, records: Sequence[Record]) -> Sequence[str | None]:
        entries = [{"Data": r.data, "PartitionKey": r.partition_key} for r in records]
        try:
            response = self._client.put_records(StreamName=self._stream_name, Records=entries)
        except Exception as exc:  # botocore's and urllib3's, classified below
            raise _kinesis_error(exc) from exc
        results = response.get("Records", [])
        if len(results) != len(records):
            raise SinkError(
                f"PutRecords answered {len(results)} results for {len(records)} records", retryable=False
            )
        return [result.get("ErrorCode") for result in results]


class CollectorSink:
    """POSTs each batch to an ottlake collector's /v1/events as JSON lines (gzip).

    For producers that hold a write key instead of AWS credentials. The collector
    answers per event: an event it rejected comes back with its reason code as the
    record's error (the worker retries it like any failed entry, then hands it to
    on_error); a 429 or 5xx is a retryable failure of the whole call.
    """

    def __init__(self, url: str, write_key: str, *, timeout_s: float = 30.0) -> None:
        self._url = url.rstrip("/") + "/v1/events"
        self._headers = {"Authorization": f"Bearer {write_key}", "Content-Type": "application/x-ndjson",
                         "Content-Encoding": "gzip"}
        self._timeout_s = timeout_s

    def send(self, records: Sequence[Record]) -> Sequence[str | None]:
        import gzip
        import urllib.error
        import urllib.request

        body = gzip.compress(b"".join(record.data for record in records), compresslevel=1)
        request = urllib.request.Request(self._url, data=body, headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                answer = orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            retryable = exc.code == 429 or exc.code >= 500
            raise SinkError(f"collector answered {exc.code}: {exc.read()[:200]!r}", retryable=retryable,
                            code=str(exc.code)) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SinkError(f"{type(exc).__name__}: {exc}", retryable=True, code=type(exc).__name__) from exc
        codes: list[str | None] = [None] * len(records)
        for rejected in answer.get("rejected", []):
            codes[rejected["index"]] = rejected["reason"]
        return codes


class MemorySink:
    """Keeps every delivered record, in order; for tests and the demo.

    `script` makes it fail on purpose: each send consumes the next item, either
    one error code (or None) per record of that call, or an exception to raise;
    once the script is used up every record succeeds. `calls` holds what each
    send received, failures included, so a test can see exactly what was resent.
    """

    def __init__(self, *, script: Iterable[Sequence[str | None] | BaseException] = ()) -> None:
        self.records: list[Record] = []
        self.calls: list[list[Record]] = []
        self._script = deque(script)
        self._lock = threading.Lock()

    def send(self, records: Sequence[Record]) -> Sequence[str | None]:
        records = list(records)
        with self._lock:
            self.calls.append(records)
            outcome = self._script.popleft() if self._script else None
            if isinstance(outcome, BaseException):
                raise outcome
            codes = [None] * len(records) if outcome is None else list(outcome)
            if len(codes) != len(records):
                raise ValueError(f"script gave {len(codes)} codes for {len(records)} records")
            self.records.extend(r for r, code in zip(records, codes) if code is None)
        return codes

    def events(self) -> list[dict[str, Any]]:
        """The delivered events, decoded, in delivery order."""
        with self._lock:
            return [orjson.loads(record.data) for record in self.records]


class FileSink:
    """Appends records to a JSON-lines file (one event a line, as on the stream).

    The file is opened per batch, so there is nothing to close and another
    process may rotate it between batches.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def send(self, records: Sequence[Record]) -> Sequence[str | None]:
        try:
            with self.path.open("ab") as out:
                out.write(b"".join(record.data for record in records))
        except OSError as exc:  # a full disk may clear; at worst retries run out
            raise SinkError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        return [None] * len(records)


class NullSink:
    """Accepts everything and keeps only a count: for benchmarks."""

    def __init__(self) -> None:
        self.records = 0

    def send(self, records: Sequence[Record]) -> Sequence[str | None]:
        self.records += len(records)
        return [None] * len(records)
