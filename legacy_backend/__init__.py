"""The legacy route-local backend, faithful to the upstream legacy contract."""
