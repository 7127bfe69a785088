"""Share links: a file (or folder) for someone without an account, until it expires,
is used up or revoked."""
