"""`ottlake stack` and `ottlake infra` where nothing needs to run: help, AWS mode, unreachable LocalStack."""

from __future__ import annotations

import pytest

from ottlake.cli import stack_cmd
from ottlake.cli.main import main
from tests.fixtures_stack import free_port


def test_the_area_registers_its_two_groups():
    assert [group.name for group in stack_cmd.COMMANDS] == ["stack", "infra"]


@pytest.mark.parametrize("command", [
    ["stack"], ["stack", "up"], ["stack", "down"], ["stack", "status"], ["infra"], ["infra", "apply"],
])
def test_every_command_has_help(command, capsys):
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: ottlake {' '.join(command)}")
    assert len(out.splitlines()) > 3  # a description, not only the usage line


def test_stack_up_on_aws_is_a_clear_error(ottlake_env, tmp_path, capsys):
    ottlake_env.setenv("OTTLAKE_AWS_ENDPOINT", "aws")
    ottlake_env.setenv("OTTLAKE_STATE_DIR", str(tmp_path / "state"))
    assert main(["stack", "up"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [
        "error: aws_endpoint is aws: there is no local stack to start; "
        "use `ottlake infra apply` to provision AWS itself"
    ]
    assert not (tmp_path / "state").exists()  # nothing was started or written


def test_stack_down_and_status_on_aws_say_there_is_nothing_here(ottlake_env, capsys):
    ottlake_env.setenv("OTTLAKE_AWS_ENDPOINT", "aws")
    assert main(["stack", "down"]) == 0
    assert "nothing to stop: aws_endpoint is aws" in capsys.readouterr().out
    assert main(["stack", "status"]) == 0
    assert "no local stack; boto3 talks to AWS in us-east-1" in capsys.readouterr().out


def test_infra_apply_on_aws_needs_the_firehose_role(ottlake_env, capsys):
    ottlake_env.setenv("OTTLAKE_AWS_ENDPOINT", "aws")
    assert main(["infra", "apply"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: firehose_role_arn is required") and "OTTLAKE_FIREHOSE_ROLE_ARN" in err


def test_localstack_that_does_not_answer(ottlake_env, capsys):
    port = free_port()
    ottlake_env.delenv("AWS_ENDPOINT_URL", raising=False)
    ottlake_env.setenv("LOCALSTACK_HOST", f"127.0.0.1:{port}")
    ottlake_env.setenv("OTTLAKE_AWS_ENDPOINT", "localstack")

    assert main(["stack", "up"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: LocalStack (endpoint from localstack-client: LOCALSTACK_HOST or "
                          f"AWS_ENDPOINT_URL) does not answer at http://127.0.0.1:{port}")
    assert len(err.strip().splitlines()) == 1

    assert main(["stack", "status"]) == 0
    assert f"LocalStack does not answer at http://127.0.0.1:{port}" in capsys.readouterr().out
