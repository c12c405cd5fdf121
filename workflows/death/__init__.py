"""Recording a death from COVID-19: one workflow per deceased resident (``covid-death-<citizen
id>``) takes the report through case status, the registry and welfare, and hands each benefit
case it opens to its own benefit-case workflow."""
