"""The administrators' page: accounts, invitations and storage health, never file names."""
