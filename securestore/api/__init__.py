"""The JSON API under /api/v1: personal-access-token auth, an OpenAPI 3.1 contract, its docs.

`bp` carries every operation: those of `views` (files, the token's user, health), of
`shares` and of `uploads`, which join it when imported here.
"""

from securestore.api import shares, uploads, views
from securestore.api.views import bp

__all__ = ["bp", "shares", "uploads", "views"]
