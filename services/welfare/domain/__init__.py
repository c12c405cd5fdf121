"""Welfare domain: programs as data, facts, explained eligibility, benefit cases."""
