"""The deployment under test: how a run is configured to reach it (config.py), and how it talks to it.

Every request goes through one `TargetSession` (transport.py): each exchange under a total deadline, its
body read up to a size cap, paced (pacing.py), guarded by the run's circuit breaker and run budget
(guard.py), and recorded as a redacted `Exchange` with its curl line (exchange.py, redaction.py). A
transport problem of any kind is one `TargetUnavailable` with a one-line reason (failures.py). `ApiClient`
(api.py) speaks the four operations of one account over that session.
"""
