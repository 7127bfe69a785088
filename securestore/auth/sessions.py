"""Session lifecycle (ASVS V3): a new session on login, idle and absolute limits, 2FA step.

The session cookie is signed, so the timestamps kept in it cannot be forged; the user's
`session_version` (see `User`) is what makes a copied cookie useless after a logout.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, flash, session
from flask_login import current_user, login_user, logout_user

from securestore.auth.models import User, user_from_session_id

STARTED = "started_at"
SEEN = "seen_at"
PENDING_USER = "pending_2fa_user"
PENDING_SINCE = "pending_2fa_since"
PENDING_NEXT = "pending_2fa_next"
# How long the second-factor step may take after the password was accepted.
PENDING_SECONDS = 300


def start(user: User) -> None:
    """Begin a fresh session for `user`: nothing planted before login survives (no fixation)."""
    session.clear()
    login_user(user)
    now = int(time.time())
    session[STARTED] = now
    session[SEEN] = now


def end() -> None:
    """Forget the session in this browser (the caller revokes it server-side)."""
    logout_user()
    session.clear()


def begin_second_factor(user: User, next_path: str | None) -> None:
    """Remember, for a few minutes, whose password was right; they are not logged in yet."""
    session.clear()
    session[PENDING_USER] = user.get_id()
    session[PENDING_SINCE] = int(time.time())
    session[PENDING_NEXT] = next_path


def pending_second_factor() -> tuple[User, str | None] | None:
    """Return the user waiting for their second factor and where they were going, if any."""
    since = session.get(PENDING_SINCE)
    if not isinstance(since, int) or time.time() - since > PENDING_SECONDS:
        return None
    user = user_from_session_id(str(session.get(PENDING_USER, "")))
    return (user, session.get(PENDING_NEXT)) if user else None


def enforce_limits() -> None:
    """End a session that sat idle too long or outlived its absolute lifetime."""
    if "_user_id" not in session:
        return
    now = int(time.time())
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    lifetime = current_app.config["SESSION_LIFETIME_HOURS"] * 3600
    started, seen = session.get(STARTED), session.get(SEEN)
    if not isinstance(started, int) or not isinstance(seen, int):
        expired = True
    else:
        expired = now - seen > idle or now - started > lifetime
    if expired:
        end()
        flash("Your session has expired. Please log in again.", "info")
    elif current_user.is_authenticated:
        session[SEEN] = now


def init_app(app: Flask) -> None:
    """Check the session limits before every request."""
    app.before_request(enforce_limits)
