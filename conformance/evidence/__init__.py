"""The evidence: what the run saw of the target, kept for the judgement.

Every exchange of the run is recorded in the run's `History` (history.py), from which the model of the
target's calls is built (call_model.py); the statuses any request saw and the calls whose delete was
accepted are kept as they happen (observed.py); which calls are certain to stay visible is told from
them (lasting.py). What takes real time is followed by background watches (watches/), each noting its
steps on the run's `Timeline` (timeline.py). Nothing here judges: the tests and the oracle do.
"""
