"""The JSON API under /api/v1: personal-access-token auth, an OpenAPI 3.1 contract, its docs.

`bp` carries every operation: those of `views` (files, the token's user, health) and of
`folders`, `versions`, `shares` and `uploads`, which join it when imported here.
"""

from securestore.api import folders, shares, uploads, versions, views
from securestore.api.views import bp

__all__ = ["bp", "folders", "shares", "uploads", "versions", "views"]
