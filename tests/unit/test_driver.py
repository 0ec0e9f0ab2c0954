"""The driver's checkpointer and lease table on their error paths (DynamoDB faked)."""

from __future__ import annotations

import pytest
from amazon_kclpy.checkpoint_error import CheckpointError
from botocore.exceptions import ClientError

from consumers.driver import LeaseCheckpointer, _parents_done
from consumers.kcl_leases import SHARD_END, Lease, LeaseLost, LeaseTable, LeaseThrottled, lease_item
from ottlake.errors import ConsumerError


def lease(shard: str = "shardId-1", checkpoint: str = "TRIM_HORIZON", parents=(), owner="me", counter=3) -> Lease:
    return Lease(shard, owner, counter, checkpoint, 0, frozenset(parents))


class FakeLeases:
    """LeaseTable.checkpoint, answering with what the test queues."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.written: list[tuple[str, int]] = []

    def checkpoint(self, current: Lease, sequence: str, sub: int) -> Lease:
        if self.errors:
            raise self.errors.pop(0)
        self.written.append((sequence, sub))
        return Lease(current.shard_id, current.owner, current.counter + 1, sequence, sub, current.parents)


def test_checkpoint_without_a_number_means_the_last_record_or_the_shard_end() -> None:
    leases = FakeLeases()
    checkpointer = LeaseCheckpointer(leases, lease())  # type: ignore[arg-type]
    checkpointer.checkpoint()  # nothing delivered yet: nothing to write
    checkpointer.largest = ("42", 0)
    checkpointer.checkpoint("40")  # a record before the largest delivered: allowed
    checkpointer.checkpoint()
    checkpointer.shard_ended = True
    checkpointer.checkpoint()
    assert leases.written == [("40", 0), ("42", 0), (SHARD_END, 0)]
    assert checkpointer.lease.checkpoint == SHARD_END and checkpointer.lease.counter == 3 + len(leases.written)


def test_checkpoint_rejects_numbers_outside_what_was_delivered() -> None:
    checkpointer = LeaseCheckpointer(FakeLeases(), lease(checkpoint="10"))  # type: ignore[arg-type]
    checkpointer.largest = ("20", 0)
    for bad in ("21", "9", "not-a-number"):
        with pytest.raises(CheckpointError) as raised:
            checkpointer.checkpoint(bad)
        assert raised.value.value == "InvalidStateException"


def test_lost_and_throttled_leases_become_kclpy_checkpoint_errors() -> None:
    leases = FakeLeases(LeaseThrottled("ThrottlingException"), LeaseLost("shardId-1"))
    checkpointer = LeaseCheckpointer(leases, lease())  # type: ignore[arg-type]
    checkpointer.largest = ("5", 0)
    with pytest.raises(CheckpointError) as throttled:
        checkpointer.checkpoint()
    assert throttled.value.value == "ThrottlingException"
    with pytest.raises(CheckpointError) as lost:
        checkpointer.checkpoint()
    assert lost.value.value == "ShutdownException"
    with pytest.raises(CheckpointError):  # and from then on, without asking DynamoDB again
        checkpointer.checkpoint()
    assert leases.written == []


def test_children_wait_for_every_parent_that_still_has_a_lease() -> None:
    leases = {"a": lease("a", SHARD_END), "b": lease("b", "77"), "c": lease("c", parents=("a", "b"))}
    assert not _parents_done(leases["c"], leases)
    leases["b"] = lease("b", SHARD_END)
    assert _parents_done(leases["c"], leases)
    assert _parents_done(lease("d", parents=("gone",)), leases)  # cleaned up: it ended long ago


def test_new_leases_carry_kcl_attribute_names() -> None:
    item = lease_item({"ShardId": "shardId-3", "ParentShardId": "shardId-1", "AdjacentParentShardId": "shardId-2",
                       "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": "99"}})
    assert item["parentShardId"] == {"SS": ["shardId-1", "shardId-2"]}
    assert item["checkpoint"] == {"S": "TRIM_HORIZON"} and item["leaseCounter"] == {"N": "0"}
    assert (item["startingHashKey"], item["endingHashKey"]) == ({"S": "0"}, {"S": "99"})
    assert "parentShardId" not in lease_item({"ShardId": "shardId-0"})  # DynamoDB sets cannot be empty
    assert Lease.from_item(item).parents == frozenset({"shardId-1", "shardId-2"})


class FailingDynamoDB:
    def __init__(self, code: str) -> None:
        self.code = code

    def update_item(self, **_request) -> None:
        raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "UpdateItem")


@pytest.mark.parametrize(("code", "expected"), [
    ("ConditionalCheckFailedException", LeaseLost),
    ("ProvisionedThroughputExceededException", LeaseThrottled),
    ("ThrottlingException", LeaseThrottled),
    ("AccessDeniedException", ConsumerError),
])
def test_lease_writes_map_dynamodb_errors(code: str, expected: type[Exception]) -> None:
    table = LeaseTable(FailingDynamoDB(code), "app", "me")
    with pytest.raises(expected):
        table.checkpoint(lease(), "5", 0)
