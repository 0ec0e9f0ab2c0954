"""The pure request builders of ottlake.services.infra: no stack, no network.

Not marked integration: botocore's Stubber checks each request against the
service's API model offline (member names, nesting, types, required members;
not enum values, which the asserts pin instead).
"""

from __future__ import annotations

from typing import Any

import pytest

from ottlake.aws import AwsTarget
from ottlake.errors import ConfigError
from ottlake.services import infra
from tests.fixtures_stack import stack_settings

STREAM_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/ottlake-player-events"
ROLE_ARN = "arn:aws:iam::123456789012:role/ottlake-firehose"


def _accepted_by_the_api_model(service: str, method: str, params: dict[str, Any]) -> None:
    from botocore.stub import Stubber

    # Nothing listens on port 9; the Stubber answers before any request is sent.
    client = AwsTarget.emulator("http://127.0.0.1:9", "eu-west-1").client(service)
    with Stubber(client) as stubber:
        stubber.add_response(method, {}, params)
        getattr(client, method)(**params)
        stubber.assert_no_pending_responses()


def test_firehose_request_reads_the_stream_and_writes_gzip_ndjson_under_raw(tmp_path):
    settings = stack_settings(tmp_path, aws_endpoint="aws", region="eu-west-1", firehose_role_arn=ROLE_ARN)

    request = infra.firehose_request(settings, stream_arn=STREAM_ARN)

    assert request["DeliveryStreamName"] == settings.firehose_name
    assert request["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert request["KinesisStreamSourceConfiguration"] == {"KinesisStreamARN": STREAM_ARN, "RoleARN": ROLE_ARN}
    destination = request["ExtendedS3DestinationConfiguration"]
    assert destination["RoleARN"] == ROLE_ARN
    assert destination["BucketARN"] == f"arn:aws:s3:::{settings.bucket}"
    # No expression in the prefix: Firehose appends its YYYY/MM/DD/HH/ layout itself.
    assert destination["Prefix"] == "raw/player_events/"
    assert "!{" not in destination["Prefix"]
    # Errors go outside what the bronze job reads, split by type as Firehose requires.
    assert not destination["ErrorOutputPrefix"].startswith("raw/player_events/")
    assert "!{firehose:error-output-type}" in destination["ErrorOutputPrefix"]
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["ProcessingConfiguration"] == {"Enabled": True, "Processors": [{
        "Type": "AppendDelimiterToRecord",
        "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "\\n"}],
    }]}
    _accepted_by_the_api_model("firehose", "create_delivery_stream", request)


def test_firehose_bucket_arn_follows_the_stream_partition(tmp_path):
    settings = stack_settings(tmp_path, aws_endpoint="aws", region="cn-north-1", firehose_role_arn=ROLE_ARN)
    request = infra.firehose_request(settings, stream_arn="arn:aws-cn:kinesis:cn-north-1:1:stream/s")
    assert request["ExtendedS3DestinationConfiguration"]["BucketARN"] == f"arn:aws-cn:s3:::{settings.bucket}"


def test_firehose_without_a_role_is_a_config_error(tmp_path):
    settings = stack_settings(tmp_path, aws_endpoint="aws")
    with pytest.raises(ConfigError, match="firehose_role_arn"):
        infra.firehose_request(settings, stream_arn=STREAM_ARN)
    with pytest.raises(ConfigError, match="OTTLAKE_FIREHOSE_ROLE_ARN"):
        infra.apply(settings)  # before any AWS call: nothing half-provisioned


def test_table_requests_follow_kcl_and_the_live_key():
    lease = infra.lease_table_request("ottlake-lake-sink")
    assert lease["TableName"] == "ottlake-lake-sink"
    assert lease["KeySchema"] == [{"AttributeName": "leaseKey", "KeyType": "HASH"}]
    assert lease["BillingMode"] == "PAY_PER_REQUEST"
    live = infra.live_table_request("ottlake-live-qoe")
    assert [part["AttributeName"] for part in live["KeySchema"]] == ["pk", "sk"]
    for request in (lease, live):
        _accepted_by_the_api_model("dynamodb", "create_table", request)


@pytest.mark.parametrize(("current", "target", "steps"), [
    (2, 2, []), (2, 3, [3]), (2, 5, [4, 5]), (1, 8, [2, 4, 8]), (8, 3, [4, 3]), (5, 1, [3, 2, 1]),
])
def test_reshard_steps(current, target, steps):
    assert infra.reshard_steps(current, target) == steps


def test_reshard_steps_stay_within_update_shard_count_limits():
    # UpdateShardCount: at most double, at least half, of the current open shards.
    for current in range(1, 40):
        for target in range(1, 40):
            path = [current, *infra.reshard_steps(current, target)]
            assert path[-1] == target
            for before, after in zip(path, path[1:]):
                assert (before + 1) // 2 <= after <= 2 * before
