"""The Temporal worker: one package per business process, each with ``models.py`` (the
dataclasses that go in and out), ``workflow.py`` (deterministic; imports only temporalio, the
standard library and its models) and ``activities.py`` (thin, idempotent calls through
``workflows.gateways``). Run it with ``python -m workflows``."""
