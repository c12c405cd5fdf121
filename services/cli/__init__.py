"""The ``dancu`` console script for operators and officers."""
