"""The runner: a run from the command line to verdict.json, as a pytest session.

`calls-conformance` (cli.py) starts pytest on the suite with the plugin (plugin.py), whose hooks hand
over to the parts that do the work: the run's settings and clients (run.py, options.py), the call budget
(budget.py), the preflight (preflight.py), the background watches (watches.py), what each test declares
and the order tests run in (collection.py), each test's outcome (outcome.py), the cleanup (cleanup.py)
and the verdict at the end (finish.py). The generated tests are Schemathesis' (property_tests.py, with
safe_creates.py); selection.py spares a narrow selection the cost of building them; fleet.py runs many
targets. Nothing below this layer knows pytest's hooks.
"""
