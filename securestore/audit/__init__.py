"""Security events: a table users can read back, and a structured log line operators ship."""
