"""Object storage: the S3 service and its health endpoint."""
