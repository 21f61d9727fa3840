"""Checks shared by the tests of the command line (importable from tests/)."""


def one_line_error(capsys, command: str) -> str:
    """The one stderr line of a command that failed on purpose (no traceback), checked to start
    with ``cimnet-bo <command>: error: ``; returns it."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith(f"cimnet-bo {command}: error: ")
    return lines[0]
