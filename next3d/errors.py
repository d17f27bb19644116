"""User-facing errors: each carries one line that names what went wrong and where."""


class Next3DError(Exception):
    """An error the user can fix (bad file, bad argument, bad shape); printed as one line, no traceback."""


class BadInputError(Next3DError):
    """A file or value given by the user is missing, malformed or of the wrong shape."""


class UnsafeFileError(Next3DError):
    """A file asked to run code (e.g. a pickle importing something outside the whitelist); nothing was run."""
