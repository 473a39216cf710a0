"""`make conformance`: Autobahn|Testsuite against an echo backend, direct and through the proxy."""
