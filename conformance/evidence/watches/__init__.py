"""Background watches of what takes real time: the lifecycle call (lifecycle.py) and the retention-window
call (window.py, with its plan and record). base.py says how a watch is cut into parts."""
