"""The one error type the CLI turns into a single clear line and an exit code."""


class AdtError(Exception):
    """A failure a person can act on: `message` says what went wrong, `hint` what to do."""

    exit_code = 1

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"
