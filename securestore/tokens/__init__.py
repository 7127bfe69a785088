"""Personal access tokens: how scripts authenticate to the JSON API."""
