"""Field checks shared by the ranker's frozen dataclasses (request, context, parameters).

Every error names the owner and the field, the value received and what was expected, e.g.
``RankingRequest.k must be an integer >= 1; got 0.``
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recommender.errors import InvalidInputError

__all__ = ["bad_field", "is_number"]


def bad_field(owner: str, name: str, value: Any, expected: str) -> InvalidInputError:
    """The error for field ``owner.name``: what it must be and what it got (a ``ValueError``)."""
    return InvalidInputError(f"{owner}.{name}", value, expected,
                             f"{owner}.{name} must be {expected}; got {value!r}.")


def is_number(x: Any) -> bool:
    """True for a Python or numpy int or float, False for a bool (an int subclass) or else."""
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)
