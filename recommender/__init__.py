"""pdrec: an adaptive, competency-based professional-learning recommender for K-12 educators.

The engine is pure domain logic: no HTTP, no MLflow, no environment reads. ``pipelines/`` and
``api/`` use it; it never imports them.
"""

__version__ = "0.1.0"
