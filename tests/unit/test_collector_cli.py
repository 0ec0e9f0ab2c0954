"""`ottlake collector` refuses what cannot work in one line, before serving anything."""

from __future__ import annotations

import pytest

from ottlake.cli.main import main
from ottlake.settings import parse_write_keys
from tests.fixtures_stack import free_port


def test_write_keys_parse_as_key_app_pairs() -> None:
    assert parse_write_keys(" k1=app-1, k2 = app-2 ,") == {"k1": "app-1", "k2": "app-2"}
    for bad in ("k1", "=app", "k1=", "k1=a,k2"):
        with pytest.raises(ValueError, match="is not key=app_id"):
            parse_write_keys(bad)


def test_no_write_keys_no_collector(ottlake_env, capsys) -> None:
    assert main(["collector"]) == 2
    assert "OTTLAKE_COLLECTOR_WRITE_KEYS" in capsys.readouterr().err


def test_bad_write_keys_are_named(ottlake_env, capsys) -> None:
    ottlake_env.setenv("OTTLAKE_COLLECTOR_WRITE_KEYS", "k1=a,oops")
    assert main(["collector"]) == 2
    err = capsys.readouterr().err
    assert "collector_write_keys" in err and "'oops' is not key=app_id" in err and "Traceback" not in err


def test_an_unreachable_stream_is_one_line(ottlake_env, capsys) -> None:
    ottlake_env.setenv("OTTLAKE_COLLECTOR_WRITE_KEYS", "k1=a")
    ottlake_env.setenv("OTTLAKE_EMBEDDED_PORT", str(free_port()))
    assert main(["collector", "--port", str(free_port())]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach Kinesis") and err.count("\n") == 1


def test_bad_flags(ottlake_env, capsys) -> None:
    ottlake_env.setenv("OTTLAKE_COLLECTOR_WRITE_KEYS", "k1=a")
    assert main(["collector", "--workers", "0"]) == 2
    assert main(["collector", "--port", "70000"]) == 2


@pytest.mark.integration
def test_a_port_in_use_is_one_line(embedded_settings, ottlake_env, capsys) -> None:
    ottlake_env.setenv("OTTLAKE_COLLECTOR_WRITE_KEYS", "k1=a")
    ottlake_env.setenv("OTTLAKE_EMBEDDED_PORT", str(embedded_settings.embedded_port))
    assert main(["collector", "--port", str(embedded_settings.embedded_port)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: cannot listen on 127.0.0.1:{embedded_settings.embedded_port}")
    assert "collector on" not in captured.out
