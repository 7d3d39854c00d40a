"""Importers and exporters for the standards districts already speak (issue #15).

One module per standard: ``case`` (1EdTech CASE 1.0 packages to and from a framework),
``oneroster`` (OneRoster CSV rosters), ``openbadges`` (Open Badges 2.0/3.0 credentials). Each
turns a document into our records plus a report of every element it skipped, with the element's
identifier and the reason; none raises on untidy input.
"""
