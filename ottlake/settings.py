"""The one settings object: typed, frozen, read from `OTTLAKE_*` and flags.

Built once in each entry point (`Settings.load(**flags)`); components receive only
the part they need (`settings.aws()`, `settings.sdk()`), never the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ottlake.aws import AwsTarget
from ottlake.errors import ConfigError
from ottlake.platform import EMR_RELEASE
from schemas.layout import Lake, lake_root

EMBEDDED_HOST = "127.0.0.1"


def parse_write_keys(text: str) -> dict[str, str]:
    """`key=app_id,key2=app_id2` as a dict; ValueError naming the first bad pair."""
    keys: dict[str, str] = {}
    for pair in text.split(","):
        if not pair.strip():
            continue
        key, sep, app_id = pair.strip().partition("=")
        if not sep or not key.strip() or not app_id.strip():
            raise ValueError(f"{pair.strip()!r} is not key=app_id")
        keys[key.strip()] = app_id.strip()
    return keys


class Settings(BaseSettings):
    """Everything configurable, with the embedded default on one machine."""

    model_config = SettingsConfigDict(env_prefix="OTTLAKE_", frozen=True, extra="forbid")

    # Where AWS is: `embedded` (moto on 127.0.0.1, started by `ottlake stack up`),
    # `localstack` (a LocalStack the user runs, found through localstack-client),
    # `aws` (the real endpoints), or an explicit http(s) URL.
    aws_endpoint: str = "embedded"
    region: str = "us-east-1"
    embedded_port: int = Field(default=4577, ge=1, le=65535)
    state_dir: Path = Path(".ottlake")

    stream_name: str = "ottlake-player-events"
    stream_shards: int = Field(default=2, ge=1, le=500)
    dead_letter_stream_name: str = "ottlake-player-events-dlq"
    lake: str = "lake"
    bucket: str = "ottlake-lake"
    # KCL applications: each one's lease table is named after it.
    lake_sink_app: str = "ottlake-lake-sink"
    qoe_monitor_app: str = "ottlake-qoe-monitor"
    live_table: str = "ottlake-live-qoe"
    firehose_name: str = "ottlake-player-events-to-s3"
    # The Glue Data Catalog database `infra apply` registers the lake's tables in (AWS
    # mode, a lake on S3), so that Athena and EMR query them by name.
    glue_database: str = Field(default="ottlake", pattern=r"^[a-z0-9_]{1,255}$")
    firehose_role_arn: str | None = None

    # Lake sink (consumers/): a raw object is written when either buffer limit is
    # reached (Firehose's defaults are 5 MiB and 300 s).
    sink_buffer_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    sink_buffer_seconds: float = Field(default=60.0, gt=0)

    # Real-time QoE monitor (consumers/): events older than the lateness, by event
    # time against the newest seen, are counted and dropped from the live view.
    monitor_lateness_s: float = Field(default=120.0, ge=0)
    # Alert rules (a TOML file) and the Slack-compatible incoming webhook they post to.
    alert_rules: Path | None = None
    alert_webhook_url: str | None = None

    # Batch (spark_jobs/): how far back a run looks (spark_jobs.jobs.common.Bounds):
    # the raw zone's hours before the newest consumed one, and the longest play session.
    raw_lookback_hours: float = Field(default=6.0, gt=0)
    max_session_hours: float = Field(default=48.0, gt=0)

    # Amazon EMR (emr/): the release the steps target, the role EMR Serverless runs the
    # jobs as, and the S3 prefix `ottlake emr package --upload` writes and the steps read.
    emr_release: str = EMR_RELEASE
    emr_job_role_arn: str | None = None
    emr_artifacts: str | None = None
    # Where `ottlake emr submit` and the schedules run the steps: an EMR Serverless
    # application or an EMR on EC2 cluster (one of them), and the role EventBridge
    # Scheduler assumes to start them (`ottlake infra apply --schedule`).
    emr_application_id: str | None = None
    emr_cluster_id: str | None = None
    scheduler_role_arn: str | None = None

    # Data-quality gates (quality/): the share of a run's raw lines quarantined
    # above which the raw gate fails.
    quality_max_quarantine_share: float = Field(default=0.05, ge=0, le=1)

    # SDK
    sdk_queue_size: int = Field(default=100_000, ge=1)
    sdk_flush_interval_s: float = Field(default=1.0, gt=0)
    sdk_max_retries: int = Field(default=8, ge=0)
    sdk_validate: bool = False  # ~20 us a valid event; the collector and bronze validate anyway

    # Collector (producers/collector): HTTP ingest for players and CMCD v2 event mode.
    # Write keys as `key=app_id` pairs separated by commas; the app id is stamped on
    # every event the key sends (custom.app_id). No key, no ingest: every request is 401.
    collector_write_keys: str = ""
    collector_host: str = "127.0.0.1"
    collector_port: int = Field(default=8080, ge=0, le=65535)
    collector_workers: int = Field(default=1, ge=1, le=64)
    # Request limits (413 beyond them). One event's limit is the contract's 16 KiB
    # (player-events.md, Envelope); raised, an event over 16 KiB but under it is
    # rejected alone instead (event_too_large, to the dead letters).
    collector_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    collector_max_events: int = Field(default=500, ge=1)
    collector_max_event_bytes: int = Field(default=16 * 1024, ge=16 * 1024)
    # Browser origins allowed by CORS, comma-separated; `*` for any.
    collector_cors_origins: str = "*"
    # The writer's bounded queue is the SDK's (sdk_queue_size): a request whose events
    # do not fit is answered 429 with Retry-After.
    collector_retry_after_s: int = Field(default=1, ge=1)
    # On SIGTERM: how long to wait for accepted events to reach the stream.
    collector_shutdown_timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("collector_write_keys")
    @classmethod
    def _write_keys(cls, value: str) -> str:
        parse_write_keys(value)  # a ValueError names the bad pair
        return value

    @field_validator("lake")
    @classmethod
    def _lake_root(cls, value: str) -> str:
        return lake_root(value)  # a LakeRootError is a ValueError: "invalid settings: lake: ..."

    @field_validator("emr_artifacts")
    @classmethod
    def _s3_prefix(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("s3://") and len(value.rstrip("/")) > len("s3://")):
            raise ValueError("must be an s3://bucket/prefix")
        return value

    @field_validator("aws_endpoint")
    @classmethod
    def _known_endpoint(cls, value: str) -> str:
        if value in ("embedded", "localstack", "aws") or value.startswith(("http://", "https://")):
            return value
        raise ValueError("must be embedded, localstack, aws or an http(s) URL")

    @classmethod
    def load(cls, **flags: Any) -> Settings:
        """Environment first, then flags that were given (None means not given)."""
        given = {key: value for key, value in flags.items() if value is not None}
        try:
            return cls(**given)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"invalid settings: {problems}") from None

    def lake_layout(self) -> Lake:
        """The lake's paths (schemas.layout)."""
        return Lake(self.lake)

    @property
    def embedded_url(self) -> str:
        return f"http://{EMBEDDED_HOST}:{self.embedded_port}"

    def aws(self) -> AwsTarget:
        """Where boto3 clients point, and with which credentials."""
        if self.aws_endpoint == "embedded":
            return AwsTarget.emulator(self.embedded_url, self.region)
        if self.aws_endpoint == "localstack":
            from localstack_client.config import get_service_endpoint  # optional extra

            return AwsTarget.emulator(get_service_endpoint("kinesis"), self.region)
        if self.aws_endpoint == "aws":
            return AwsTarget(endpoint_url=None, region=self.region)
        return AwsTarget.emulator(self.aws_endpoint, self.region)

    def collector_keys(self) -> dict[str, str]:
        """The write keys: key -> application id."""
        return parse_write_keys(self.collector_write_keys)

    def collector_origins(self) -> list[str]:
        return [origin.strip() for origin in self.collector_cors_origins.split(",") if origin.strip()]

    def sdk(self) -> dict[str, Any]:
        """The SDK's part of the settings, as producers.sdk.SdkConfig's keywords
        (settings never import a component: `SdkConfig(**settings.sdk())`)."""
        return {
            "queue_size": self.sdk_queue_size,
            "flush_interval_s": self.sdk_flush_interval_s,
            "max_retries": self.sdk_max_retries,
            "validate": self.sdk_validate,
        }
