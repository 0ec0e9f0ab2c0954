"""The live table in DynamoDB: window rows, the series index, shard progress, alert state.

Keys (schemas.layout; the table is made by ottlake.services.infra.live_table_request): pk names the series (`all`,
`cdn#fastly`), sk the window start as ISO-8601 UTC, which sorts as time. Each
shard's processor writes its own part of a window (sk `<start>#<shard>`):
PutItem of the same part again replaces it (a restart re-writes, never adds),
and readers add the parts up (rows.merge_rows). Bookkeeping items share the table
under pks starting with `_`, which no series name does.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from consumers.monitor.rows import COUNTERS, WindowRow, merge_rows
from schemas.layout import LIVE_PARTITION_KEY as PK
from schemas.layout import LIVE_SORT_KEY as SK

SERIES_INDEX = "_series#"  # + dimension; sk: the series
SHARDS = "_shards"  # sk: shard id
ALERT_STATE = "_alert#"  # + rule name; sk: the series
# An expiry attribute for a TTL on the table: live rows are for on-call, the lake keeps history.
EXPIRES_AT = "expires_at"
ROW_TTL_S = 2 * 24 * 3600
_BATCH = 25  # BatchWriteItem: at most 25 items per call
_SER, _DES = TypeSerializer(), TypeDeserializer()


def window_sk(window_start_ms: int) -> str:
    return datetime.fromtimestamp(window_start_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LiveStore:
    """Reads and writes of the live table through a boto3 DynamoDB client."""

    def __init__(self, client: Any, table: str, *, sleep: Any = time.sleep) -> None:
        self.client = client
        self.table = table
        self.sleep = sleep

    # --- window rows ------------------------------------------------------------------

    def put_rows(self, rows: Iterable[WindowRow], *, shard_id: str) -> int:
        items = [_row_item(row, shard_id) for row in rows]
        self._batch_put(items)
        return len(items)

    def rows(self, series: str, *, since_ms: int, until_ms: int) -> list[WindowRow]:
        """One merged row per window in [since, until] (window starts), oldest first."""
        parts: dict[int, list[WindowRow]] = defaultdict(list)
        for item in self._query(
            "#pk = :pk AND #sk BETWEEN :lo AND :hi",
            {":pk": series, ":lo": window_sk(since_ms), ":hi": window_sk(until_ms) + "#\uffff"},
        ):
            row = _item_row(item)
            parts[row.window_start_ms].append(row)
        return [merged for start in sorted(parts) if (merged := merge_rows(parts[start])) is not None]

    # --- the series index -------------------------------------------------------------

    def register_series(self, series: Iterable[str]) -> None:
        items = []
        for name in series:
            dimension = name.split("#", 1)[0]
            items.append({PK: SERIES_INDEX + dimension, SK: name})
        self._batch_put(items)

    def series(self, dimension: str) -> list[str]:
        return sorted(item[SK] for item in self._query("#pk = :pk", {":pk": SERIES_INDEX + dimension}))

    # --- shard progress -----------------------------------------------------------------

    def register_shard(self, shard_id: str) -> None:
        """Announce a shard (keeping the progress of a previous owner of its lease);
        a new owner holds the others back until it finds its shard idle."""
        self.client.update_item(
            TableName=self.table, Key=_key(SHARDS, shard_id),
            UpdateExpression="SET watermark_ms = if_not_exists(watermark_ms, :zero), ended = :no, idle = :no",
            ExpressionAttributeValues=_values({":zero": 0, ":no": False}),
        )

    def set_progress(self, shard_id: str, watermark_ms: int, *, ended: bool = False, idle: bool = False) -> None:
        self.client.put_item(TableName=self.table, Item=_item(
            {PK: SHARDS, SK: shard_id, "watermark_ms": watermark_ms, "ended": ended, "idle": idle}))

    def set_idle(self, shard_id: str) -> None:
        """Mark a shard idle, keeping its watermark (it has no progress of its own yet)."""
        self.client.update_item(
            TableName=self.table, Key=_key(SHARDS, shard_id),
            UpdateExpression="SET watermark_ms = if_not_exists(watermark_ms, :zero), idle = :yes",
            ExpressionAttributeValues=_values({":zero": 0, ":yes": True}),
        )

    def complete_until(self) -> int | None:
        """Windows ending at or before this are closed by every shard holding back (see
        `complete_until_of`); None when no shard registered."""
        return complete_until_of(self._query("#pk = :pk", {":pk": SHARDS}))

    # --- alert state --------------------------------------------------------------------

    def transition_alert(self, rule: str, series: str, *, window_ms: int, firing: bool,
                         value: float | None) -> bool | None:
        """Record the rule's state for `series` as of a window; returns whether it was
        firing before, or None when this window (or a later one) was already evaluated.

        The condition makes each evaluation apply once and in window order, whichever
        shard's processor gets there first: the one that applies it sends the message."""
        values: dict[str, Any] = {":w": window_ms, ":f": firing}
        expression = "SET window_ms = :w, firing = :f"
        if value is not None:
            values[":v"] = str(value)
            expression += ", last_value = :v"
        try:
            answer = self.client.update_item(
                TableName=self.table, Key=_key(ALERT_STATE + rule, series),
                UpdateExpression=expression,
                ConditionExpression="attribute_not_exists(window_ms) OR window_ms < :w",
                ExpressionAttributeValues=_values(values),
                ReturnValues="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        old = answer.get("Attributes", {})
        return bool(_DES.deserialize(old["firing"])) if "firing" in old else False

    # --- plumbing ------------------------------------------------------------------------

    def _query(self, condition: str, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table, "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#pk": PK, **({"#sk": SK} if "#sk" in condition else {})},
            "ExpressionAttributeValues": _values(values),
        }
        while True:
            page = self.client.query(**kwargs)
            for item in page["Items"]:
                yield {name: _DES.deserialize(value) for name, value in item.items()}
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _batch_put(self, items: list[dict[str, Any]], attempts: int = 8) -> None:
        for start in range(0, len(items), _BATCH):
            requests = [{"PutRequest": {"Item": _item(item)}} for item in items[start:start + _BATCH]]
            for attempt in range(attempts):
                answer = self.client.batch_write_item(RequestItems={self.table: requests})
                requests = answer.get("UnprocessedItems", {}).get(self.table, [])
                if not requests:
                    break
                # Unprocessed items mean throttling: back off before the rest (AWS's advice).
                self.sleep(min(2.0, 0.05 * 2**attempt))
            else:
                raise RuntimeError(f"{len(requests)} items still unprocessed after {attempts} BatchWriteItem calls")


def complete_until_of(progress: Iterable[dict[str, Any]]) -> int | None:
    """The lowest watermark of the shards that hold alerts back; None without shards.

    Ended shards hold nothing back (nothing more comes), nor do idle ones: a shard
    with no records for a while would otherwise stop every alert (Flink's source
    idleness, the same trade-off: what it sends later, for windows already
    evaluated, is written but not evaluated again). With nobody holding back, the
    newest watermark of all."""
    progress = list(progress)
    holding = [int(p["watermark_ms"]) for p in progress if not p.get("ended") and not p.get("idle")]
    if holding:
        return min(holding)
    return max((int(p["watermark_ms"]) for p in progress), default=None)


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {PK: {"S": pk}, SK: {"S": sk}}


def _item(plain: dict[str, Any]) -> dict[str, Any]:
    return {name: _SER.serialize(value) for name, value in plain.items()}


def _values(plain: dict[str, Any]) -> dict[str, Any]:
    return {name: _SER.serialize(value) for name, value in plain.items()}


def _row_item(row: WindowRow, shard_id: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        PK: row.series, SK: f"{window_sk(row.window_start_ms)}#{shard_id}",
        "window_start_ms": row.window_start_ms, "shard": shard_id,
        EXPIRES_AT: row.window_start_ms // 1000 + ROW_TTL_S,
        "startup_sketch": {str(bucket): count for bucket, count in row.startup_sketch.items()},
    }
    for name in COUNTERS:
        item[name] = getattr(row, name)
    return item


def _item_row(item: dict[str, Any]) -> WindowRow:
    row = WindowRow(series=item[PK], window_start_ms=int(item["window_start_ms"]))
    for name in COUNTERS:
        setattr(row, name, int(item.get(name, 0)))
    row.startup_sketch = Counter({int(bucket): int(count) for bucket, count in item.get("startup_sketch", {}).items()})
    return row
