"""Security headers on every response (ASVS 14.4): one small after-request hook.

Chosen over Flask-Talisman: five headers do not need a dependency, and the policy stays
readable here. Templates hold no inline script or style, so the CSP needs no 'unsafe-inline'.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

# `img-src data:` is for the server-rendered 2FA QR code (an SVG in a data: URI).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Two years, as the shipped nginx sends it.
HSTS = "max-age=63072000"
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def add_security_headers(response: Response) -> Response:
    """Add the headers; a response that set its own CSP (downloads: `sandbox`) keeps it."""
    for name, value in STATIC_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if not request.path.startswith("/static/"):
        # Pages show private file lists and one-time recovery codes: never cache them.
        response.headers.setdefault("Cache-Control", "no-store")
    if current_app.config["SECURE_COOKIES"]:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """Run the hook after every request, error pages included."""
    app.after_request(add_security_headers)
