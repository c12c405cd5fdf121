"""A benefit case waiting on officers: one workflow per case (``benefit-case-<case id>``),
with SLA timers, officers' actions as validated Updates, and payment once approved."""
