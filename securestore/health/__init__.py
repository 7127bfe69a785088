"""Health checks of the whole service: the database, both buckets and the backup counts."""
