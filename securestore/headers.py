"""Security headers on every response (ASVS 14.4): one small after-request hook.

Chosen over Flask-Talisman: five headers do not need a dependency, and the policy stays
readable here. Templates hold no inline script or style, so the CSP needs no 'unsafe-inline'.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from securestore.extensions import storage

POLICY_KEY = "securestore.content_security_policy"


def content_security_policy(upload_origin: str | None = None) -> str:
    """The CSP of every page; `upload_origin` is the S3 origin that direct uploads send
    parts to (`UPLOAD_MODE=direct`), the one place beyond the site a page may connect to.

    `img-src data:` is for the server-rendered 2FA QR code (an SVG in a data: URI).
    """
    connect = "connect-src 'self'" + (f" {upload_origin}" if upload_origin else "")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            connect,
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
    response.headers.setdefault("Content-Security-Policy", current_app.extensions[POLICY_KEY])
    if not request.path.startswith("/static/"):
        # Pages show private file lists and one-time recovery codes: never cache them.
        response.headers.setdefault("Cache-Control", "no-store")
    if current_app.config["SECURE_COOKIES"]:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """Write the app's policy (after `storage.init_app`: it asks where part URLs point) and
    run the hook after every request, error pages included."""
    with app.app_context():
        direct = app.config["UPLOAD_MODE"] == "direct"
        app.extensions[POLICY_KEY] = content_security_policy(
            storage.direct.origin() if direct else None
        )
    app.after_request(add_security_headers)
