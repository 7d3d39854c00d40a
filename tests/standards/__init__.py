"""Tests of the standards importers and exporters (recommender/standards)."""
