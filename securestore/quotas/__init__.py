"""Storage quotas and per-user upload limits: what an account may store, checked before."""
