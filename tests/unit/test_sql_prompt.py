"""`ottlake sql` without a query: the prompt (prompt_toolkit) runs each line, keeps
history in a file and ends on a blank line; driven here through a pipe."""

from __future__ import annotations

import pytest

from analytics.sql import LakeQuery
from ottlake.cli import sql_cmd
from schemas.layout import Lake


def test_the_prompt_runs_queries_and_keeps_history(tmp_path, capsys) -> None:
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    (tmp_path / "lake" / "raw" / "player_events").mkdir(parents=True)
    history = tmp_path / "state" / "sql_history"
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text("SELECT 6 * 7 AS answer\rSELECT * FROM no_such_table\r\r")
        sql_cmd._prompt(LakeQuery(Lake.at(tmp_path / "lake")), history)
    captured = capsys.readouterr()
    assert "tables: player_events, quarantine, play_sessions" in captured.out
    assert "answer" in captured.out and "42" in captured.out
    assert captured.err.startswith("error: unknown table no_such_table")
    assert "SELECT 6 * 7 AS answer" in history.read_text()


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_query_is_refused(tmp_path, text) -> None:
    from ottlake.errors import QueryError

    with pytest.raises(QueryError, match="the query is empty"):
        LakeQuery(Lake.at(tmp_path)).run(text)
