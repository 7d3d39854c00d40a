"""The engine's own exceptions.

Each subclasses a builtin as well as :class:`RecommenderError`, so a caller that catches
``ValueError`` or ``KeyError`` keeps working, and ``api/errors.py`` can map every one of them
to a single HTTP status in one table.
"""

from __future__ import annotations

__all__ = [
    "RecommenderError",
    "DocumentProblems",
    "FrameworkError",
    "CycleError",
    "UnknownCompetencyError",
    "CatalogError",
    "InvalidEvidenceError",
    "InvalidInputError",
    "FeatureFrameError",
    "NotFittedError",
    "ModelNotLoadedError",
]


class RecommenderError(Exception):
    """Base class of every error the engine raises on purpose."""


class DocumentProblems(RecommenderError, ValueError):
    """A settings document that does not validate; ``problems`` holds every
    ``(field, value, expected)`` found, so the API can name each one. Subclasses set ``what``,
    the document's name in the message ("renewal rules have 2 problem(s): ...")."""

    what = "the document has"

    def __init__(self, problems: list[tuple[str, object, str]]):
        self.problems = problems
        lines = [f"{f}: got {v!r}, expected {e}" for f, v, e in problems]
        super().__init__(f"{self.what} {len(problems)} problem(s):\n  " + "\n  ".join(lines))


class FrameworkError(RecommenderError, ValueError):
    """A competency framework is malformed (duplicate ids, unknown ids, self loops, ...)."""


class CycleError(FrameworkError):
    """The prerequisite relation has a cycle; ``cycle`` holds it as a list of ids."""

    def __init__(self, cycle: list[str]):
        self.cycle = list(cycle)
        path = " -> ".join([*self.cycle, self.cycle[0]])
        super().__init__(
            f"prerequisite cycle: {path}. A competency cannot (indirectly) be its own "
            "prerequisite; remove one of these edges."
        )


class UnknownCompetencyError(RecommenderError, KeyError):
    """A competency id is not in the framework."""

    def __init__(self, ids, framework: str | None = None):
        self.ids = sorted({str(i) for i in ([ids] if isinstance(ids, str) else ids)})
        where = f" framework {framework!r}" if framework else " the framework"
        super().__init__(f"unknown competency id(s) {self.ids}: not in{where}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class CatalogError(RecommenderError, ValueError):
    """An activity catalog is malformed or references what does not exist."""


class InvalidEvidenceError(RecommenderError, ValueError):
    """Evidence could not be read at all (wrong file shape, missing required columns)."""


class InvalidInputError(RecommenderError, ValueError):
    """An argument of an engine call is not what the call accepts.

    ``field`` names it, ``value`` is what was received and ``expected`` says what is accepted,
    so a caller (the API answers 422) can report all three without parsing the message. The
    default message reads ``"<field> must be <expected>; got <value!r>"``.
    """

    def __init__(self, field: str, value: object, expected: str, message: str | None = None):
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(message or f"{field} must be {expected}; got {value!r}")


class FeatureFrameError(RecommenderError, ValueError):
    """A feature frame (or its target) does not satisfy a model's input contract."""


class NotFittedError(RecommenderError, ValueError, AttributeError):
    """A model was used before ``fit``."""


class ModelNotLoadedError(RecommenderError, RuntimeError):
    """No mastery model is loaded where one is required."""
