"""The JSON API under /api/v1: personal-access-token auth, an OpenAPI 3.1 contract, its docs."""
