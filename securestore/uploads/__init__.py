"""Direct uploads: the client sends a file's parts straight to S3; the app signs and records."""
