"""The alerts domain: pure rules, no database, no protobuf, no I/O."""
