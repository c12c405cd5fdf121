"""The case-status service's pure model and rules: no database, no protobuf, no I/O."""
