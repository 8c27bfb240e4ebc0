"""The judgement: what the evidence means for each requirement and for the run.

Named checks charge a violation to the requirement it breaks, with a stable failure code (checks.py);
the run-wide oracle judges invariants on the model of every call the run saw (oracle.py); the ledger
keeps each test's outcome per requirement (ledger.py), and the verdict turns it into the run's answer
and exit code (verdict.py). Waivers accept known deviations (waivers.py); a baseline tells what changed
since an earlier verdict (baseline.py). Nothing here renders: the reports do.
"""
