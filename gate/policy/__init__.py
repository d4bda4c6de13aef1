"""The decision policy: a pure function of the evidence and the ``[policy]`` rules.

See docs/lane.md ("Decision policy") and gate/reasons.py (the POLICY_* codes).
"""
