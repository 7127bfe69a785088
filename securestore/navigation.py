"""The account menu's links to the settings pages, in the order the menu shows them."""

from __future__ import annotations

from flask import current_app, url_for
from flask_login import current_user

# (label, Bootstrap Icons class, endpoint)
ACCOUNT_LINKS: tuple[tuple[str, str, str], ...] = (
    ("Recently deleted", "bi-trash3", "files.deleted"),
    ("Account security", "bi-shield-check", "auth.account"),
    ("Change password", "bi-key", "auth.change_password"),
    ("Recent activity", "bi-clock-history", "auth.activity"),
    ("Access tokens", "bi-braces-asterisk", "tokens.index"),
)
SHARES_LINK = ("Shared links", "bi-link-45deg", "shares.index")
ADMIN_LINK = ("Administration", "bi-people", "admin.index")


def account_links() -> list[tuple[str, str, str]]:
    """Return (label, icon, url) for each settings page of the account menu: shared links
    where the feature is on, and the admin page for administrators."""
    shares = (SHARES_LINK,) if current_app.config["SHARES_ENABLED"] else ()
    links = shares + ACCOUNT_LINKS + ((ADMIN_LINK,) if current_user.is_admin else ())
    return [(label, icon, url_for(endpoint)) for label, icon, endpoint in links]
