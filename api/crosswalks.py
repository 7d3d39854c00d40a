"""The crosswalk of the served framework, loaded once per service and validated against it.

The framework the service ranks with (``PDREC_FRAMEWORK``) has a crosswalk when one is shipped
for its name (``recommender/data/crosswalk_<name>.yaml``: the default ``educator`` framework
has one, mapping its competencies to Danielson components and InTASC standards). When the
shipped crosswalk does not fit the served framework (a custom framework reusing the name), there
is none, and :func:`crosswalk_problem` says why; coded evidence is then rejected with that
reason rather than mapped by a table that does not match.
"""

from __future__ import annotations

import logging

from api.services import Services
from recommender.errors import InvalidInputError
from recommender.standards.crosswalk import Crosswalk, default_crosswalk

__all__ = ["crosswalk_of", "crosswalk_problem"]

_log = logging.getLogger(__name__)


def _load(services: Services) -> tuple[Crosswalk | None, str | None]:
    cached = getattr(services, "_crosswalk", None)
    if cached is None:
        name = services.graph.graph.get("name")
        try:
            cw = default_crosswalk(services.graph)
            problem = None if cw is not None else f"framework {name!r} has no crosswalk"
        except InvalidInputError as exc:
            cw, problem = None, (f"the crosswalk shipped for framework {name!r} does not fit "
                                 f"the served framework: {exc}")
            _log.warning("crosswalk not used: %s", problem)
        cached = services._crosswalk = (cw, problem)
    return cached


def crosswalk_of(services: Services) -> Crosswalk | None:
    """The served framework's crosswalk, or ``None`` when it has none."""
    return _load(services)[0]


def crosswalk_problem(services: Services) -> str | None:
    """Why the served framework has no crosswalk (``None`` when it has one)."""
    return _load(services)[1]
