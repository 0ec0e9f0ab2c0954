"""`ottlake sql` and `ottlake report`'s reader on a lake in S3 (the embedded stack's):
delta-rs reaches it with the settings' endpoint and credentials."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest

from ottlake.cli.main import main
from schemas.layout import Lake
from schemas.tables import QOE_DAILY

pytestmark = pytest.mark.integration


def test_sql_reads_a_lake_in_s3(embedded_settings, ottlake_env, capsys) -> None:
    import pyarrow as pa
    from deltalake import write_deltalake

    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    target = embedded_settings.aws()
    s3 = target.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="lake/raw/player_events/2026/03/01/09/x.gz", Body=b"")
    lake = Lake.at(f"s3://{bucket}/lake")
    row = {column.name: None for column in QOE_DAILY.columns}
    row.update({"session_date": date(2026, 3, 1), "cdn": "fastly", "sessions": 7, "attempts": 6, "starts": 5,
                "start_failures": 1, "exits_before_start": 0, "playback_failures": 0, "unique_viewers": 4,
                "watch_time_ms": 600_000, "play_time_ms": 590_000, "rebuffer_time_ms": 6_000, "rebuffer_count": 2})
    write_deltalake(lake.qoe_daily, pa.Table.from_pylist([row], schema=QOE_DAILY.arrow()),
                    storage_options=target.delta_storage_options())

    ottlake_env.setenv("OTTLAKE_EMBEDDED_PORT", str(embedded_settings.embedded_port))
    ottlake_env.setenv("OTTLAKE_STATE_DIR", str(embedded_settings.state_dir))
    code = main(["sql", "--lake", lake.root, "--format", "json",
                 "SELECT cdn, sum(rebuffer_time_ms) / sum(watch_time_ms) AS ratio FROM qoe_daily GROUP BY cdn"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out) == [{"cdn": "fastly", "ratio": 0.01}]

    code = main(["sql", "--lake", f"s3://{bucket}/elsewhere", "SELECT 1"])
    assert code == 2 and "does not exist" in capsys.readouterr().err
