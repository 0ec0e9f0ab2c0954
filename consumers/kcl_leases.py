"""A KCL application's lease table, read and written the way the KCL does.

One item per shard, keyed by `leaseKey` (the shard id), with the KCL's own
attribute names (DynamoDBLeaseSerializer in KCL 3.x): `leaseOwner`,
`leaseCounter` (bumped by every renewal, take and checkpoint, and the condition
of every write: a lease is held while its counter moves), `checkpoint` and
`checkpointSubSequenceNumber`, `ownerSwitchesSinceCheckpoint`, `parentShardId`
(a string set), `startingHashKey`/`endingHashKey`. The in-process driver and
the real daemon can therefore share one table, one after the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ottlake.errors import ConsumerError

TRIM_HORIZON = "TRIM_HORIZON"
LATEST = "LATEST"
SHARD_END = "SHARD_END"
# DynamoDB's answers to too many requests: retry later, nothing is wrong.
_THROTTLED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})


class LeaseLost(Exception):
    """The lease's counter or owner is not what this worker last wrote: someone took it."""


class LeaseThrottled(Exception):
    """DynamoDB throttled a lease write; the caller may retry."""


@dataclass(frozen=True)
class Lease:
    shard_id: str
    owner: str | None
    counter: int
    checkpoint: str
    sub_sequence: int
    parents: frozenset[str]

    @property
    def ended(self) -> bool:
        return self.checkpoint == SHARD_END

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Lease:
        return cls(
            shard_id=item["leaseKey"]["S"],
            owner=item.get("leaseOwner", {}).get("S"),
            counter=int(item.get("leaseCounter", {}).get("N", "0")),
            checkpoint=item.get("checkpoint", {}).get("S", TRIM_HORIZON),
            sub_sequence=int(item.get("checkpointSubSequenceNumber", {}).get("N", "0")),
            parents=frozenset(item.get("parentShardId", {}).get("SS", ())),
        )


def lease_item(shard: dict[str, Any]) -> dict[str, Any]:
    """A new lease for one shard (ListShards' description), at the trim horizon."""
    item: dict[str, Any] = {
        "leaseKey": {"S": shard["ShardId"]},
        "checkpoint": {"S": TRIM_HORIZON},
        "checkpointSubSequenceNumber": {"N": "0"},
        "leaseCounter": {"N": "0"},
        "ownerSwitchesSinceCheckpoint": {"N": "0"},
    }
    parents = [shard[key] for key in ("ParentShardId", "AdjacentParentShardId") if shard.get(key)]
    if parents:  # a DynamoDB set cannot be empty
        item["parentShardId"] = {"SS": parents}
    hash_range = shard.get("HashKeyRange")
    if hash_range:
        item["startingHashKey"] = {"S": hash_range["StartingHashKey"]}
        item["endingHashKey"] = {"S": hash_range["EndingHashKey"]}
    return item


class LeaseTable:
    """Conditional reads and writes of one application's leases, for one worker."""

    def __init__(self, dynamodb: Any, table: str, worker_id: str) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.worker_id = worker_id

    def create_missing(self, shards: Iterable[dict[str, Any]]) -> int:
        """A TRIM_HORIZON lease for every shard that has none; returns how many were added."""
        added = 0
        for shard in shards:
            try:
                self.dynamodb.put_item(TableName=self.table, Item=lease_item(shard),
                                       ConditionExpression="attribute_not_exists(leaseKey)")
                added += 1
            except self.dynamodb.exceptions.ConditionalCheckFailedException:
                pass
            except self.dynamodb.exceptions.ResourceNotFoundException:
                raise ConsumerError(
                    f"the lease table {self.table} does not exist; run `ottlake infra apply`") from None
        return added

    def scan(self) -> dict[str, Lease]:
        leases: dict[str, Lease] = {}
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
        try:
            while True:
                page = self.dynamodb.scan(**kwargs)
                for item in page["Items"]:
                    lease = Lease.from_item(item)
                    leases[lease.shard_id] = lease
                if "LastEvaluatedKey" not in page:
                    return leases
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except self.dynamodb.exceptions.ResourceNotFoundException:
            raise ConsumerError(f"the lease table {self.table} does not exist; run `ottlake infra apply`") from None

    def take(self, lease: Lease) -> Lease:
        """Become the owner; fails (LeaseLost) if the lease changed since it was read."""
        switches = "" if lease.owner == self.worker_id else ", ownerSwitchesSinceCheckpoint = ownerSwitchesSinceCheckpoint + :one"
        self._update(lease, f"SET leaseOwner = :me, leaseCounter = :next{switches}",
                     condition="leaseCounter = :counter", extra={":one": {"N": "1"}} if switches else {})
        return Lease(lease.shard_id, self.worker_id, lease.counter + 1, lease.checkpoint,
                     lease.sub_sequence, lease.parents)

    def renew(self, lease: Lease) -> Lease:
        self._update(lease, "SET leaseCounter = :next", condition=self._owned())
        return Lease(lease.shard_id, lease.owner, lease.counter + 1, lease.checkpoint,
                     lease.sub_sequence, lease.parents)

    def checkpoint(self, lease: Lease, sequence: str, sub_sequence: int) -> Lease:
        self._update(
            lease,
            "SET checkpoint = :checkpoint, checkpointSubSequenceNumber = :sub, "
            "ownerSwitchesSinceCheckpoint = :zero, leaseCounter = :next",
            condition=self._owned(),
            extra={":checkpoint": {"S": sequence}, ":sub": {"N": str(sub_sequence)}, ":zero": {"N": "0"}},
        )
        return Lease(lease.shard_id, lease.owner, lease.counter + 1, sequence, sub_sequence, lease.parents)

    def release(self, lease: Lease) -> None:
        """Give the lease up (a graceful stop), so any worker may take it at once."""
        self._update(lease, "SET leaseCounter = :next REMOVE leaseOwner", condition=self._owned())

    def _owned(self) -> str:
        return "leaseOwner = :me AND leaseCounter = :counter"

    def _update(self, lease: Lease, expression: str, *, condition: str, extra: dict[str, Any] | None = None) -> None:
        from botocore.exceptions import ClientError

        values = {":me": {"S": self.worker_id}, ":counter": {"N": str(lease.counter)},
                  ":next": {"N": str(lease.counter + 1)}, **(extra or {})}
        if ":me" not in expression and ":me" not in condition:
            values.pop(":me")
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key={"leaseKey": {"S": lease.shard_id}},
                UpdateExpression=expression, ConditionExpression=condition, ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise LeaseLost(lease.shard_id) from None
            if code in _THROTTLED:
                raise LeaseThrottled(code) from None
            raise ConsumerError(f"lease table {self.table}, lease {lease.shard_id}: {code}: "
                                f"{exc.response.get('Error', {}).get('Message', exc)}") from None
