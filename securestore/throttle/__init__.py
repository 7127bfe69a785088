"""Counters of failed attempts shared by every worker and instance (database or Redis)."""
