"""boto3 clients for one target: AWS itself or an emulator behind an endpoint URL.

The code talks to AWS only through these clients; nothing else branches on
whether the endpoint is an emulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Emulators accept any credentials; fixed fake ones keep boto3 from searching the
# machine for real ones (and from ever sending them to 127.0.0.1).
_EMULATOR_KEY = "testing"


@dataclass(frozen=True)
class AwsTarget:
    endpoint_url: str | None
    region: str
    access_key_id: str | None = None
    secret_access_key: str | None = None

    @classmethod
    def emulator(cls, endpoint_url: str, region: str) -> AwsTarget:
        return cls(endpoint_url, region, _EMULATOR_KEY, _EMULATOR_KEY)

    @property
    def is_emulator(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str, **config: Any) -> Any:
        """A boto3 client; `config` goes to botocore's Config (retries, timeouts)."""
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )
        return session.client(
            service,
            endpoint_url=self.endpoint_url,
            config=Config(**config) if config else None,
        )

    def delta_storage_options(self) -> dict[str, str]:
        """The same target as delta-rs's object-store options (its `storage_options`):
        an emulator by its endpoint over plain HTTP, AWS by the default credential chain."""
        options = {"AWS_REGION": self.region}
        if self.endpoint_url is not None:
            options.update(AWS_ENDPOINT_URL=self.endpoint_url, AWS_ALLOW_HTTP="true",
                           AWS_S3_ALLOW_UNSAFE_RENAME="true")
        if self.access_key_id is not None and self.secret_access_key is not None:
            options.update(AWS_ACCESS_KEY_ID=self.access_key_id, AWS_SECRET_ACCESS_KEY=self.secret_access_key)
        return options
