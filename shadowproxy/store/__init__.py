"""The shared store of a scale-out (`SHADOWPROXY_STORE=redis`): what several replicas share.

One `Store` per process holds the Redis connection, its health and the pub/sub fan-out; the
shared structures are built on it: `SharedDoc` (a versioned JSON document changed by
compare-and-set, for the flags), `SharedPairs` (the correlation map), `SharedTallies` (the
rollback windows' evidence of every replica) and `SharedEvents` (the audit trail). With the
default `local` store none of this is used: the embedded memory and state-dir files are the
state, as on one machine.
"""
