"""`CommandError`: a mistake in what the user asked for, reported without a traceback."""


class CommandError(ValueError):
    """A bad flag combination or file for a `minigrad` subcommand.

    `minigrad.cli.main` prints it as `minigrad <command>: error: <message>` and exits with
    status 2 (argparse's status for usage errors); anything else is a bug and keeps its
    traceback.
    """
