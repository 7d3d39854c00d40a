"""Evidence -> feature matrix, leakage-free, for training and serving alike.

:class:`FeatureBuilder` (:mod:`.builder`) is the entry point; the as-of scans are in
:mod:`.asof`, queries and the once-per-build preparation in :mod:`.context`, and each feature
family, with its definitions, in its own module:

=========  ===============================================================================
``own_``   :mod:`.own`: the educator's history on the competency (and ``hist_bits``)
``graph_`` :mod:`.graph`: evidence on prerequisites, dependents, ancestors, descendants;
           depth and degree
``dom_``   :mod:`.domain`: the educator's history on the other competencies of the domain
``edu_``   :mod:`.educator`: the educator's history on all competencies, ability net of
           difficulty
(context)  :mod:`.sequence`: answer-order context, only with ``sequence_context=True``
``dose_``  :mod:`.dose`: completed activities targeting the competency
``diff_``  :mod:`.difficulty`: competency difficulty learned on training folds only
``prof_``  :mod:`.profile`: the educator's profile
=========  ===============================================================================
"""

from recommender.evidence import SOURCES
from recommender.features.builder import IDENTITY_COLUMNS, FeatureBuilder
from recommender.features.sequence import SEQUENCE_FEATURES

__all__ = ["SOURCES", "FeatureBuilder", "IDENTITY_COLUMNS", "SEQUENCE_FEATURES"]
