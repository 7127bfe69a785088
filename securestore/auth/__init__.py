"""Accounts: registration, login and logout."""
