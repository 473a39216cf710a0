"""Running the proxy: the command line, the process, the admin port, logs and the demo.

Primitives: `cli.main` (`shadowproxy run|up|demo|diffs|flags|cutover`; the only reader of
`os.environ`; exit codes, `--json` and `--help` kept alike for every command),
`server.serve` (the proxy and admin apps on their ports, signals, graceful shutdown), `admin`
(`/metrics`, `/healthz`, `/readyz`, `/flags`, `/rollback`), `logging.configure_logging` (one
structured log shape), `stack` (`shadowproxy up`: both backends and the proxy as subprocesses)
`demo` (a dashboard session driven through the proxy, with parity per route group) and
`progress` (the progress line that fits the terminal).
"""
