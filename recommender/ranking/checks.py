"""Field checks shared by the ranker's frozen dataclasses (request, context, parameters).

Every error names the owner and the field, the value received and what was expected, e.g.
``RankingRequest.k must be an integer >= 1; got 0.``
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from recommender.errors import InvalidInputError

__all__ = ["bad_field", "check_built_from", "check_finite_fields", "is_number"]


def bad_field(owner: str, name: str, value: Any, expected: str) -> InvalidInputError:
    """The error for field ``owner.name``: what it must be and what it got (a ``ValueError``)."""
    return InvalidInputError(f"{owner}.{name}", value, expected,
                             f"{owner}.{name} must be {expected}; got {value!r}.")


def check_finite_fields(owner: str, obj: object,
                        rules: Mapping[str, tuple[Callable[[float], bool], str]]) -> None:
    """Raise :func:`bad_field` for the first field of ``obj`` (in ``rules`` order) that is not
    a finite number passing its rule; ``rules`` maps a field to ``(ok, expected)``."""
    for name, (ok, expected) in rules.items():
        v = getattr(obj, name)
        if not is_number(v) or not math.isfinite(v) or not ok(v):
            raise bad_field(owner, name, v, expected)


def is_number(x: Any) -> bool:
    """True for a Python or numpy int or float, False for a bool (an int subclass) or else."""
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def check_built_from(index: Any, graph: Any, catalog: Any, gains: Any, builder: str) -> None:
    """Raise ValueError unless ``index`` (a ranking or pathway index) was built from these very
    ``graph`` and ``catalog`` objects and, when given, ``gains``; the message names what differs
    and the ``builder`` call that makes a matching index."""
    wrong = [name for name, mine, given in (("graph", index.graph, graph),
                                             ("catalog", index.catalog, catalog))
             if mine is not given]
    if gains is not None and gains is not index.gains:
        wrong.append("gains")
    if wrong:
        raise ValueError(f"index was built from another {' and '.join(wrong)} than the one "
                         f"passed; build it with {builder} from the objects you use")
