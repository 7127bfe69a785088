"""A user's files: list, upload, download, delete."""
