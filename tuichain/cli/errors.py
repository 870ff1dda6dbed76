"""How the commands fail: one line on stderr and an exit code the shell can test."""

from __future__ import annotations

EXIT_FAILURE = 1  # the environment said no: port taken, disk unwritable
EXIT_USAGE = 2  # the user asked for something impossible (argparse's convention)


class CliError(Exception):
    """A problem the user can fix; the message is printed as one line."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code
