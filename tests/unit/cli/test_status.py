"""Progress lines as kind prints them when stderr is not a terminal."""

from __future__ import annotations

import io

from kin.cli.status import Status


def test_plain_lines_without_a_terminal() -> None:
    out = io.StringIO()
    status = Status(out)
    status.start("Preparing nodes 📦 📦 ")
    status.start("Writing configuration 📜")
    status.end(False)
    assert out.getvalue() == (
        " • Preparing nodes 📦 📦   ...\n"
        "\r ✓ Preparing nodes 📦 📦 \n"
        " • Writing configuration 📜  ...\n"
        "\r ✗ Writing configuration 📜\n"
    )


def test_end_without_a_step_prints_nothing_and_quiet_prints_nothing() -> None:
    out = io.StringIO()
    Status(out).end(True)
    quiet = Status(out, quiet=True)
    quiet.start("x")
    quiet.info("y")
    quiet.end(True)
    assert out.getvalue() == ""
