"""What every activity class shares: handing its activities to a ``Worker``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Activities:
    """Base of the activity classes; each takes its ports in ``__init__``."""

    def methods(self) -> list[Callable[..., Any]]:
        """Every activity of this class, bound to its ports, for ``Worker(activities=…)``."""
        return [
            getattr(self, name)
            for name in dir(type(self))
            if hasattr(getattr(type(self), name), "__temporal_activity_definition")
        ]
