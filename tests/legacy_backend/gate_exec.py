"""Test helper: wait until a gate file exists, then exec the real command (argv[2:]).

Lets a test subscribe to a task's websocket before the analysis prints its first stage line,
without faking the analysis itself.
"""

import os
import sys
import time

gate = sys.argv[1]
while not os.path.exists(gate):
    time.sleep(0.01)
os.execv(sys.argv[2], sys.argv[2:])
