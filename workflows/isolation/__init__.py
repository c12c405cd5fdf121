"""Isolation and quarantine follow-up: when a period ends with no new positive result, a
contact's case moves on (CLEARED) and the wards hear of it through the status change."""
