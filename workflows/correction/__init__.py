"""Death correction: the registry's outbox relay starts one workflow per
``registry.death_revoked.v1`` event (an approved civil-status correction made an erroneous death
ALIVE again); it retracts the outcome DECEASED in case status, withdraws the benefit cases
the death opened that are not paid and stops the monthly payments of those being paid."""
