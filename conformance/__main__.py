"""`python -m conformance`: the same as the `calls-conformance` command."""

import sys

from conformance.runner.cli import main

sys.exit(main())
