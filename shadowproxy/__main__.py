"""`python -m shadowproxy`: the same command as the `shadowproxy` console script."""

from shadowproxy.ops.cli import main

raise SystemExit(main())
