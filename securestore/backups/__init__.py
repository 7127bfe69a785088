"""Backup copies: retry, sync, verify, repair, restore, and the `backup` CLI group."""
