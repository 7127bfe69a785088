"""Running the store for other people: roles, disabled and deleted accounts, quotas."""
