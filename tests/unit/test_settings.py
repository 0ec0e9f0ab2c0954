"""Settings: OTTLAKE_* from the environment, flags over it, clear errors, endpoint resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from ottlake.cli.main import main
from ottlake.errors import ConfigError
from ottlake.settings import Settings


def test_environment_with_the_ottlake_prefix(ottlake_env, tmp_path):
    ottlake_env.setenv("OTTLAKE_REGION", "eu-west-1")
    ottlake_env.setenv("OTTLAKE_EMBEDDED_PORT", "4999")
    ottlake_env.setenv("OTTLAKE_STATE_DIR", str(tmp_path))
    ottlake_env.setenv("OTTLAKE_STREAM_SHARDS", "4")
    ottlake_env.setenv("REGION", "ap-south-1")  # unprefixed: not ours

    settings = Settings.load()

    assert (settings.region, settings.embedded_port, settings.stream_shards) == ("eu-west-1", 4999, 4)
    assert settings.state_dir == tmp_path
    assert settings.embedded_url == "http://127.0.0.1:4999"
    assert settings.aws().endpoint_url == "http://127.0.0.1:4999"


def test_flags_override_the_environment_and_none_means_not_given(ottlake_env):
    ottlake_env.setenv("OTTLAKE_REGION", "eu-west-1")
    ottlake_env.setenv("OTTLAKE_STREAM_NAME", "from-env")

    settings = Settings.load(region="us-west-2", stream_name=None)

    assert settings.region == "us-west-2"
    assert settings.stream_name == "from-env"


def test_cli_flags_override_the_environment(ottlake_env, capsys):
    ottlake_env.setenv("OTTLAKE_AWS_ENDPOINT", "aws")
    ottlake_env.setenv("OTTLAKE_REGION", "eu-west-1")
    assert main(["--region", "eu-central-1", "stack", "status"]) == 0
    assert "AWS in eu-central-1" in capsys.readouterr().out


@pytest.mark.parametrize(("variable", "value", "reason"), [
    ("OTTLAKE_EMBEDDED_PORT", "70000", "embedded_port: Input should be less than or equal to 65535"),
    ("OTTLAKE_STREAM_SHARDS", "two", "stream_shards: Input should be a valid integer"),
    ("OTTLAKE_STREAM_SHARDS", "0", "stream_shards: Input should be greater than or equal to 1"),
    ("OTTLAKE_AWS_ENDPOINT", "ftp://x", "aws_endpoint: Value error, must be embedded, localstack, aws or an http(s) URL"),
])
def test_bad_values_are_a_config_error_with_the_reason(ottlake_env, capsys, variable, value, reason):
    ottlake_env.setenv(variable, value)
    with pytest.raises(ConfigError, match="invalid settings") as failure:
        Settings.load()
    assert reason in str(failure.value)

    assert main(["stack", "status"]) == ConfigError.exit_code == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [f"error: {failure.value}"]
    assert "Traceback" not in captured.err


def test_a_bad_flag_is_a_config_error(ottlake_env):
    with pytest.raises(ConfigError, match="embedded_port"):
        Settings.load(embedded_port=0)
    with pytest.raises(ConfigError, match="no_such_setting"):
        Settings.load(no_such_setting=1)


def test_settings_are_frozen(ottlake_env):
    settings = Settings.load()
    with pytest.raises(Exception, match="frozen"):
        settings.region = "eu-west-1"  # type: ignore[misc]


@pytest.fixture
def localstack_env(ottlake_env):
    """localstack-client reads these itself; start each test from none of them."""
    for name in ("LOCALSTACK_HOST", "AWS_ENDPOINT_URL", "USE_SSL"):
        ottlake_env.delenv(name, raising=False)
    ottlake_env.setenv("OTTLAKE_AWS_ENDPOINT", "localstack")
    return ottlake_env


def test_localstack_endpoint_defaults_to_the_edge_port(localstack_env):
    target = Settings.load().aws()
    assert target.endpoint_url == "http://localhost:4566"
    assert target.is_emulator and target.access_key_id == "testing"


def test_localstack_endpoint_follows_localstack_host(localstack_env):
    localstack_env.setenv("LOCALSTACK_HOST", "127.0.0.1:4599")
    assert Settings.load().aws().endpoint_url == "http://127.0.0.1:4599"
    localstack_env.setenv("USE_SSL", "1")
    assert Settings.load().aws().endpoint_url == "https://127.0.0.1:4599"


def test_localstack_endpoint_follows_aws_endpoint_url(localstack_env):
    localstack_env.setenv("LOCALSTACK_HOST", "127.0.0.1:4599")
    localstack_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4510")
    assert Settings.load().aws().endpoint_url == "http://127.0.0.1:4510"


def test_other_endpoints(ottlake_env):
    assert Settings.load(aws_endpoint="aws").aws().endpoint_url is None
    assert not Settings.load(aws_endpoint="aws").aws().is_emulator
    assert Settings.load(aws_endpoint="http://127.0.0.1:5000").aws().endpoint_url == "http://127.0.0.1:5000"
    assert Settings.load().state_dir == Path(".ottlake")


def test_the_emr_settings_are_named_as_the_others(ottlake_env) -> None:
    defaults = Settings.load()
    assert (defaults.emr_release, defaults.emr_job_role_arn, defaults.emr_artifacts) == ("emr-spark-8.1.0", None, None)
    ottlake_env.setenv("OTTLAKE_EMR_RELEASE", "emr-spark-8.2.0")
    ottlake_env.setenv("OTTLAKE_EMR_JOB_ROLE_ARN", "arn:aws:iam::123456789012:role/ottlake-jobs")
    ottlake_env.setenv("OTTLAKE_EMR_ARTIFACTS", "s3://artifacts/ottlake")
    settings = Settings.load()
    assert (settings.emr_release, settings.emr_job_role_arn, settings.emr_artifacts) == (
        "emr-spark-8.2.0", "arn:aws:iam::123456789012:role/ottlake-jobs", "s3://artifacts/ottlake")
    with pytest.raises(ConfigError, match="emr_artifacts: Value error, must be an s3://bucket/prefix"):
        Settings.load(emr_artifacts="/tmp/artifacts")
