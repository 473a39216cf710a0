"""Code the two backends had in identical copies, kept in one place so the copies cannot drift.

`legacy_backend` and `app_service` are independent of each other (an import-linter contract),
yet both need the same log shape, the same Starlette-shaped error rendering, the same child
environment rule and the same crash-reporting for background tasks. Only what was really
duplicated lives here; anything one backend does differently stays in that backend. This package
imports neither backend, nor the kernel, nor the proxy, and the proxy never imports it (the proxy
knows the backends only by URL and contract shape).

Modules: `logging` (structlog as one JSON object per line), `errors` (FastAPI/Starlette error
bodies on aiohttp and the error-middleware skeleton), `settings` (seconds parsing and the
analysis subprocess's environment), `tasks` (crash logging and cancel-and-wait for task sets).
"""
