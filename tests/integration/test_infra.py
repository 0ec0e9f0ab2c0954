"""`infra apply` against the real embedded stack: the AWS code path, the emulator behind it."""

from __future__ import annotations

import uuid

import pytest

from ottlake.cli.main import main
from ottlake.errors import InfraError
from ottlake.services import infra
from ottlake.settings import Settings
from tests.fixtures_stack import free_port, stack_settings

pytestmark = pytest.mark.integration


def _own_names(embedded_settings: Settings, **fields: object) -> Settings:
    """The session stack with resource names of this test's own, so tests cannot collide."""
    tag = uuid.uuid4().hex[:8]
    names = {
        "stream_name": f"events-{tag}", "dead_letter_stream_name": f"dlq-{tag}", "bucket": f"lake-{tag}",
        "lake_sink_app": f"sink-{tag}", "qoe_monitor_app": f"qoe-{tag}", "live_table": f"live-{tag}",
        "firehose_name": f"hose-{tag}",
    }
    return stack_settings(embedded_settings.state_dir, embedded_port=embedded_settings.embedded_port,
                          **{**names, **fields})


def test_apply_twice_creates_nothing_the_second_time(embedded_settings):
    settings = _own_names(embedded_settings)
    first = infra.apply(settings)
    second = infra.apply(settings)

    assert [(a.resource, a.outcome) for a in first] == [
        ("kinesis stream", "created"), ("kinesis stream", "created"), ("s3 bucket", "created"),
        ("dynamodb table", "created"), ("dynamodb table", "created"), ("dynamodb table", "created"),
        ("firehose delivery stream", "skipped"),
    ]
    assert [a.name for a in second] == [a.name for a in first]
    assert {a.outcome for a in second} == {"present", "skipped"}


def test_provisioned_resources_have_the_configured_shape(embedded_settings):
    target = embedded_settings.aws()
    kinesis, dynamodb, s3 = target.client("kinesis"), target.client("dynamodb"), target.client("s3")

    stream = kinesis.describe_stream_summary(StreamName=embedded_settings.stream_name)["StreamDescriptionSummary"]
    assert stream["StreamStatus"] == "ACTIVE"
    assert stream["OpenShardCount"] == embedded_settings.stream_shards
    assert len(kinesis.list_shards(StreamName=embedded_settings.stream_name)["Shards"]) == embedded_settings.stream_shards
    dlq = kinesis.describe_stream_summary(StreamName=embedded_settings.dead_letter_stream_name)
    assert dlq["StreamDescriptionSummary"]["OpenShardCount"] == 1

    s3.head_bucket(Bucket=embedded_settings.bucket)

    for app in (embedded_settings.lake_sink_app, embedded_settings.qoe_monitor_app):
        table = dynamodb.describe_table(TableName=app)["Table"]
        assert table["KeySchema"] == [{"AttributeName": "leaseKey", "KeyType": "HASH"}]
        assert table["AttributeDefinitions"] == [{"AttributeName": "leaseKey", "AttributeType": "S"}]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    live = dynamodb.describe_table(TableName=embedded_settings.live_table)["Table"]
    assert live["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"},
    ]


def test_cli_apply_prints_every_resource_and_creates_nothing_again(embedded_settings, ottlake_env, capsys):
    ottlake_env.setenv("OTTLAKE_EMBEDDED_PORT", str(embedded_settings.embedded_port))
    ottlake_env.setenv("OTTLAKE_STATE_DIR", str(embedded_settings.state_dir))
    assert main(["infra", "apply"]) == 0
    out = capsys.readouterr().out
    for name in (embedded_settings.stream_name, embedded_settings.bucket, embedded_settings.live_table,
                 embedded_settings.lake_sink_app, embedded_settings.firehose_name):
        assert name in out
    assert "0 created, 0 changed, 6 present, 1 skipped" in out


def test_a_different_shard_count_reshards_the_stream(embedded_settings):
    settings = _own_names(embedded_settings, stream_shards=2)
    infra.apply(settings)
    grown = _own_names(embedded_settings, stream_shards=5, stream_name=settings.stream_name)

    stream_action = infra.apply(grown)[0]

    assert (stream_action.outcome, stream_action.name) == ("changed", settings.stream_name)
    summary = settings.aws().client("kinesis").describe_stream_summary(StreamName=settings.stream_name)
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 5
    assert infra.apply(grown)[0].outcome == "present"


def test_firehose_request_is_accepted_by_the_emulator(embedded_settings):
    role = "arn:aws:iam::123456789012:role/ottlake-firehose"
    settings = _own_names(embedded_settings, firehose_role_arn=role)

    created = infra.apply(settings, firehose=True)[-1]
    again = infra.apply(settings, firehose=True)[-1]

    assert (created.resource, created.outcome, again.outcome) == ("firehose delivery stream", "created", "present")
    hose = settings.aws().client("firehose").describe_delivery_stream(DeliveryStreamName=settings.firehose_name)
    description = hose["DeliveryStreamDescription"]
    assert description["DeliveryStreamType"] == "KinesisStreamAsSource"
    destination = description["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["BucketARN"] == f"arn:aws:s3:::{settings.bucket}"
    assert destination["Prefix"] == "raw/player_events/"


def test_a_table_with_another_key_is_a_clear_error(embedded_settings):
    settings = _own_names(embedded_settings)
    settings.aws().client("dynamodb").create_table(
        TableName=settings.lake_sink_app, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    with pytest.raises(InfraError, match=rf"{settings.lake_sink_app} exists with key id \(HASH\), not leaseKey"):
        infra.apply(settings)


def test_apply_without_a_running_stack_says_so(tmp_path, ottlake_env, capsys):
    ottlake_env.setenv("OTTLAKE_EMBEDDED_PORT", str(free_port()))
    ottlake_env.setenv("OTTLAKE_STATE_DIR", str(tmp_path))
    assert main(["infra", "apply"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach http://127.0.0.1:" in err and "ottlake stack up" in err
