"""The legacy route-local backend, faithful to the upstream LEGACY contract.

Kept deliberately in the upstream shape: route handlers own persistence, the analysis subprocess,
stage mutation and payload projection, so the proxy has a true LEGACY side to diff against.

Primitives: `Settings` (settings.py), `create_app(settings)` (app.py), `Runtime` with the task map
and broadcast (state.py), the raw LEGACY task state and its transitions (lifecycle.py), the
subprocess driver (runner.py), `TaskStore` and `PortfolioStore` (task_store.py,
portfolio_store.py), `Kernel` for in-process kernel calls (kernel.py), FastAPI-shaped errors and
validation (errors.py, validation.py), auth and CORS (access.py), `Spawner` (tasks.py).
"""
