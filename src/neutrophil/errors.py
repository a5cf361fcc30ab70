"""The error classes the CLI and the server tell apart.

- `UserError`: bad input the user can fix (a file, a flag, a spec). The CLI prints one line
  and exits 2; the server answers 400.
- `BackendError`: a model server failed (refused connection, timeout, HTTP 5xx, a broken
  stream). Not the user's fault: the CLI prints one line and exits 3; the server answers 502.
- Anything else is a bug: exit 1 with a traceback.
"""


class UserError(Exception):
    """Bad input from the user (a file, a flag, a spec). Message is one line: what and where."""


class BackendError(Exception):
    """A model backend (usually a remote server) failed; one line saying what and where."""
