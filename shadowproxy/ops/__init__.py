"""Running the proxy: the command line, the process, the admin port, logs and the demo.

Primitives: `cli.main` (`shadowproxy run|up|demo|diffs|flags`; the only reader of `os.environ`),
`server.serve` (the proxy and admin apps on their ports, signals, graceful shutdown), `admin`
(`/metrics`, `/healthz`, `/readyz`, `/flags`, `/rollback`), `logging.configure_logging` (one
structured log shape), `stack` (`shadowproxy up`: both backends and the proxy as subprocesses)
and `demo` (a dashboard session driven through the proxy, with parity per route group).
"""
