"""Provision what the pipeline needs, idempotently, through boto3: one code path for
the emulator and for AWS.

`apply` converges: what exists with the right shape is left alone ("present"),
what is missing is created, and a stream whose shard count differs from the
settings is resharded with UpdateShardCount ("changed"): the settings are the
desired state, and the KCL follows a reshard on its own (parent shards are
drained before their children). Anything that cannot be converged safely (a
table with another key, a bucket owned by someone else) is an InfraError and
nothing is deleted.

Firehose (Kinesis source -> S3 raw zone) is created on AWS only: the emulators
neither buffer Firehose deliveries, nor expand its prefixes, nor read a Kinesis
source, so there the lake-sink consumer writes the raw zone (DESIGN.md, "Two
modes, one code path"). Its request is built by a pure function so that its
shape is checked without AWS.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ottlake.errors import ConfigError, InfraError
from ottlake.settings import Settings
from schemas.layout import LIVE_PARTITION_KEY, LIVE_SORT_KEY, RAW_PREFIX

Outcome = Literal["created", "present", "changed", "skipped"]

# KCL's lease table: one item per shard, keyed by the shard id (KCL 2.x/3.x schema).
LEASE_KEY = "leaseKey"
# The live QoE table's keys (pk names the series, e.g. "cdn#<cdn>", sk the window
# start) and the raw zone's prefix: Firehose appends its default YYYY/MM/DD/HH/ layout
# to a prefix without expressions, which is the lake's raw layout (schemas.layout).
# Failed records out of the raw zone the bronze job reads. A prefix with expressions
# must contain !{firehose:error-output-type} (Firehose developer guide, custom prefixes).
RAW_ERROR_PREFIX = "raw/_errors/player_events/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
# Fewer, larger objects for Spark; the bronze job runs hourly, so 5 minutes of
# latency costs nothing (limits: 1-128 MiB, 0-900 s).
FIREHOSE_BUFFER_MIB = 128
FIREHOSE_BUFFER_S = 300
# Emulators answer at once; AWS takes ~30 s for a stream, ~1 min for a delivery stream.
_POLL_S = 1.0


@dataclass(frozen=True)
class Action:
    """One resource and what `apply` did about it."""

    resource: str
    name: str
    outcome: Outcome
    detail: str = ""


def apply(settings: Settings, *, firehose: bool | None = None, glue: bool | None = None,
          timeout_s: float = 600.0) -> list[Action]:
    """Create what is missing, reshard what differs; returns one Action per resource.

    `firehose=None` creates the delivery stream only on AWS; True forces it (for
    example to check the request against an emulator), False skips it. The lake's
    tables are registered in the Glue Data Catalog (ottlake.services.glue) when
    the lake is on S3 (AWS mode, against AWS or an emulator that serves Glue) and
    `glue` is not False; a local lake has no catalog (`ottlake sql` reads it).
    `timeout_s` bounds each wait for a resource to become ACTIVE.
    """
    with_firehose = settings.aws_endpoint == "aws" if firehose is None else firehose
    if with_firehose and not settings.firehose_role_arn:
        raise ConfigError(
            "firehose_role_arn is required to create the Firehose delivery stream on AWS "
            "(a role Firehose assumes to read the stream and write the bucket); set OTTLAKE_FIREHOSE_ROLE_ARN"
        )
    target = settings.aws()
    where = target.endpoint_url or f"AWS ({settings.region})"
    kinesis, s3, dynamodb = (target.client(name) for name in ("kinesis", "s3", "dynamodb"))

    actions: list[Action] = []
    with _as_infra_error(f"kinesis stream {settings.stream_name}", where):
        actions.append(_ensure_stream(kinesis, settings.stream_name, settings.stream_shards, timeout_s))
    with _as_infra_error(f"kinesis stream {settings.dead_letter_stream_name}", where):
        actions.append(_ensure_stream(kinesis, settings.dead_letter_stream_name, 1, timeout_s))
    with _as_infra_error(f"s3 bucket {settings.bucket}", where):
        actions.append(_ensure_bucket(s3, settings.bucket, settings.region, timeout_s))
    for request in (
        lease_table_request(settings.lake_sink_app),
        lease_table_request(settings.qoe_monitor_app),
        live_table_request(settings.live_table),
    ):
        with _as_infra_error(f"dynamodb table {request['TableName']}", where):
            actions.append(_ensure_table(dynamodb, request, timeout_s))

    if not with_firehose:
        actions.append(Action(
            "firehose delivery stream", settings.firehose_name, "skipped",
            "an emulator cannot deliver Firehose from a Kinesis source; the lake-sink consumer writes the raw zone",
        ))
    else:
        with _as_infra_error(f"firehose delivery stream {settings.firehose_name}", where):
            stream_arn = kinesis.describe_stream_summary(StreamName=settings.stream_name)[
                "StreamDescriptionSummary"]["StreamARN"]
            request = firehose_request(settings, stream_arn=stream_arn)
            actions.append(_ensure_firehose(target.client("firehose"), request, timeout_s))
    actions.extend(_catalog(settings, glue, where))
    return actions


def _catalog(settings: Settings, glue: bool | None, where: str) -> list[Action]:
    """The lake's tables in the Glue Data Catalog (AWS mode, a lake on S3)."""
    from ottlake.services import glue as catalog

    lake = settings.lake_layout()
    if glue is False or (glue is None and lake.is_local):
        return []
    if lake.is_local:
        return [Action("glue database", settings.glue_database, "skipped",
                       f"the lake {lake.root} is a local folder: set OTTLAKE_LAKE=s3://bucket/prefix")]
    client = settings.aws().client("glue")
    with _as_infra_error(f"glue database {settings.glue_database}", where):
        actions = [Action("glue database", settings.glue_database,
                          catalog.ensure_database(client, settings.glue_database, lake.root), lake.root)]
    for wanted in catalog.table_inputs(lake):
        name = f"{settings.glue_database}.{wanted['Name']}"
        with _as_infra_error(f"glue table {name}", where):
            outcome = catalog.ensure_table(client, settings.glue_database, wanted)
        actions.append(Action("glue table", name, outcome,  # type: ignore[arg-type]
                              f"delta at {wanted['StorageDescriptor']['Location']}"))
    return actions


# --- pure request builders ----------------------------------------------------------


def reshard_steps(current: int, target: int) -> list[int]:
    """Shard counts to pass through: UpdateShardCount may at most double or halve at once."""
    steps: list[int] = []
    while current != target:
        current = min(target, current * 2) if target > current else max(target, (current + 1) // 2)
        steps.append(current)
    return steps


def lease_table_request(app_name: str) -> dict[str, Any]:
    """CreateTable for a KCL application's lease table, which the KCL names after the app."""
    return {
        "TableName": app_name,
        "AttributeDefinitions": [{"AttributeName": LEASE_KEY, "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": LEASE_KEY, "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


def live_table_request(table_name: str) -> dict[str, Any]:
    """CreateTable for live QoE metrics: a series (pk) and its windows in order (sk)."""
    return {
        "TableName": table_name,
        "AttributeDefinitions": [
            {"AttributeName": LIVE_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": LIVE_SORT_KEY, "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": LIVE_PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": LIVE_SORT_KEY, "KeyType": "RANGE"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def firehose_request(settings: Settings, *, stream_arn: str) -> dict[str, Any]:
    """CreateDeliveryStream: the player-event stream into the lake's raw zone as gzip NDJSON."""
    role_arn = settings.firehose_role_arn
    if not role_arn:
        raise ConfigError("firehose_role_arn is required for the Firehose delivery stream (OTTLAKE_FIREHOSE_ROLE_ARN)")
    partition = stream_arn.split(":")[1]  # aws, aws-cn, aws-us-gov: the bucket's ARN shares it
    return {
        "DeliveryStreamName": settings.firehose_name,
        "DeliveryStreamType": "KinesisStreamAsSource",
        "KinesisStreamSourceConfiguration": {"KinesisStreamARN": stream_arn, "RoleARN": role_arn},
        "ExtendedS3DestinationConfiguration": {
            "RoleARN": role_arn,
            "BucketARN": f"arn:{partition}:s3:::{settings.bucket}",
            "Prefix": RAW_PREFIX,
            "ErrorOutputPrefix": RAW_ERROR_PREFIX,
            "BufferingHints": {"SizeInMBs": FIREHOSE_BUFFER_MIB, "IntervalInSeconds": FIREHOSE_BUFFER_S},
            "CompressionFormat": "GZIP",
            # Firehose concatenates records as they are; one event per line makes NDJSON.
            "ProcessingConfiguration": {
                "Enabled": True,
                "Processors": [{
                    "Type": "AppendDelimiterToRecord",
                    "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "\\n"}],
                }],
            },
        },
    }


# --- one resource each --------------------------------------------------------------


def _ensure_stream(kinesis: Any, name: str, shards: int, timeout_s: float) -> Action:
    summary = _stream_summary(kinesis, name)
    if summary is None:
        kinesis.create_stream(StreamName=name, ShardCount=shards, StreamModeDetails={"StreamMode": "PROVISIONED"})
        _wait_stream_active(kinesis, name, timeout_s)
        return Action("kinesis stream", name, "created", _shards(shards))
    if summary["StreamStatus"] == "DELETING":
        raise InfraError(f"kinesis stream {name} is being deleted; run apply again once it is gone")
    summary = _wait_stream_active(kinesis, name, timeout_s)
    if summary.get("StreamModeDetails", {}).get("StreamMode") == "ON_DEMAND":
        return Action("kinesis stream", name, "present", "on-demand: AWS manages its shards, not stream_shards")
    current = summary["OpenShardCount"]
    if current == shards:
        return Action("kinesis stream", name, "present", _shards(current))
    for step in reshard_steps(current, shards):
        kinesis.update_shard_count(StreamName=name, TargetShardCount=step, ScalingType="UNIFORM_SCALING")
        _wait_stream_active(kinesis, name, timeout_s)
    detail = f"resharded from {current} to {_shards(shards)} (UpdateShardCount)"
    return Action("kinesis stream", name, "changed", detail)


def _shards(count: int) -> str:
    return f"{count} shard" if count == 1 else f"{count} shards"


def _stream_summary(kinesis: Any, name: str) -> dict[str, Any] | None:
    try:
        return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    except kinesis.exceptions.ResourceNotFoundException:
        return None


def _wait_stream_active(kinesis: Any, name: str, timeout_s: float) -> dict[str, Any]:
    def active() -> dict[str, Any] | None:
        summary = _stream_summary(kinesis, name)
        return summary if summary is not None and summary["StreamStatus"] == "ACTIVE" else None

    return _wait_for(active, f"kinesis stream {name} to become ACTIVE", timeout_s)


def _ensure_bucket(s3: Any, bucket: str, region: str, timeout_s: float) -> Action:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return Action("s3 bucket", bucket, "present")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "403":
            raise InfraError(
                f"s3 bucket {bucket} exists but this account may not use it; choose another bucket name"
            ) from None
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise
    # us-east-1 is the default location and rejects an explicit LocationConstraint.
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=bucket, **location)
    except s3.exceptions.BucketAlreadyOwnedByYou:  # created in between, by us
        return Action("s3 bucket", bucket, "present")
    s3.get_waiter("bucket_exists").wait(Bucket=bucket, WaiterConfig=_waiter_config(timeout_s))
    return Action("s3 bucket", bucket, "created", region)


def _ensure_table(dynamodb: Any, request: dict[str, Any], timeout_s: float) -> Action:
    name = request["TableName"]
    wanted_key = _key_text(request["KeySchema"])
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        dynamodb.create_table(**request)
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig=_waiter_config(timeout_s))
        return Action("dynamodb table", name, "created", f"key {wanted_key}, on demand")
    actual_key = _key_text(table["KeySchema"])
    if actual_key != wanted_key:
        raise InfraError(
            f"dynamodb table {name} exists with key {actual_key}, not {wanted_key}; "
            "delete it or choose another name (apply never deletes data)"
        )
    return Action("dynamodb table", name, "present", f"key {actual_key}")


def _key_text(key_schema: list[dict[str, str]]) -> str:
    return ", ".join(f"{part['AttributeName']} ({part['KeyType']})" for part in key_schema)


def _ensure_firehose(firehose: Any, request: dict[str, Any], timeout_s: float) -> Action:
    name = request["DeliveryStreamName"]
    try:
        firehose.describe_delivery_stream(DeliveryStreamName=name)
        return Action("firehose delivery stream", name, "present", "configuration not compared")
    except firehose.exceptions.ResourceNotFoundException:
        pass
    firehose.create_delivery_stream(**request)

    def settled() -> str | None:
        found = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        state = found["DeliveryStreamStatus"]
        if state.endswith("_FAILED"):
            reason = found.get("FailureDescription", {}).get("Details", "no details")
            raise InfraError(f"firehose delivery stream {name} failed to create: {reason}")
        return state if state == "ACTIVE" else None

    _wait_for(settled, f"firehose delivery stream {name} to become ACTIVE", timeout_s)
    return Action("firehose delivery stream", name, "created", f"s3 prefix {RAW_PREFIX}, gzip, newline-delimited")


# --- waiting and errors -------------------------------------------------------------


def _wait_for(check: Callable[[], Any], what: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while (result := check()) is None:
        if time.monotonic() >= deadline:
            raise InfraError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(_POLL_S)
    return result


def _waiter_config(timeout_s: float) -> dict[str, int]:
    return {"Delay": int(_POLL_S), "MaxAttempts": max(1, int(timeout_s / _POLL_S))}


@contextlib.contextmanager
def _as_infra_error(what: str, where: str) -> Iterator[None]:
    """botocore's errors as one line naming the resource: the CLI prints it as is."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        WaiterError,
    )

    try:
        yield
    except EndpointConnectionError:
        hint = "; is the stack up? run `ottlake stack up`" if where.startswith("http") else ""
        raise InfraError(f"{what}: cannot reach {where}{hint}") from None
    except NoCredentialsError:
        raise InfraError(f"{what}: no AWS credentials found (profile, environment or instance role)") from None
    except WaiterError as exc:
        raise InfraError(f"{what}: {exc}") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise InfraError(f"{what}: {error.get('Code', 'error')}: {error.get('Message', exc)}") from None
    except BotoCoreError as exc:
        raise InfraError(f"{what}: {exc}") from None
