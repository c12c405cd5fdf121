"""Residence-change propagation: the registry's outbox relay starts one workflow per
``registry.residence_changed.v1`` event (the event id is the workflow id); case status and
alerts take the resident's current residence from the registry."""
