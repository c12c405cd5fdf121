"""Case-status change propagation: the outbox relay of case status starts one workflow per
``case_status.status_changed.v1`` event (the event id is the workflow id); it updates the
alerts watchlist and alerts the wards concerned, and keeps the resident's isolation follow-up
on the period case status computed."""
