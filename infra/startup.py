"""The error of a process that cannot start: a port taken, a server that did not come up.

Its message says what to do, so ``worker.py`` prints it alone, without a traceback; any other
error keeps its traceback.
"""

from __future__ import annotations


class StartupError(RuntimeError):
    """Something the process needs could not be started or bound; the message says the fix."""
