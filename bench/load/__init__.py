"""`make loadtest`: SecureStore under load and chaos, with a ledger of every write and an audit.

Run as `python -m bench.load` (see `__main__`); docs/reliability.md says what it does and
what the last full run measured.
"""
