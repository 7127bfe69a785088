"""The account menu's links to settings pages, shown only for pages this app really has.

Settings pages arrive in their own blueprints; listing their endpoints here (with the names
they may take) lets the menu grow without a template change and never breaks on a missing one.
"""

from __future__ import annotations

from flask import current_app, url_for

# (label, Bootstrap Icons class, candidate endpoints: the first that exists is used)
ACCOUNT_LINKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Recently deleted", "bi-trash3", ("files.deleted",)),
    ("Account security", "bi-shield-check", ("auth.account",)),
    ("Change password", "bi-key", ("auth.change_password", "auth.password")),
    ("Recent activity", "bi-clock-history", ("auth.activity",)),
    ("Access tokens", "bi-braces-asterisk", ("tokens.index", "auth.tokens", "api.tokens")),
)


def account_links() -> list[tuple[str, str, str]]:
    """Return (label, icon, url) for each settings page that is registered on this app."""
    links = []
    for label, icon, endpoints in ACCOUNT_LINKS:
        endpoint = next((e for e in endpoints if e in current_app.view_functions), None)
        if endpoint is not None:
            links.append((label, icon, url_for(endpoint)))
    return links
