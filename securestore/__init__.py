"""SecureStore: a Flask file store over an S3 primary bucket with a server-side backup copy."""

from __future__ import annotations

import logging.config
import os
from collections.abc import Mapping
from importlib import resources
from typing import Any

from flask import Flask, redirect, url_for
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from securestore import config as settings
from securestore import errors, headers, request_limits, routing
from securestore.accounts.cli import invites, users
from securestore.admin.views import bp as admin_bp
from securestore.api import bp as api_bp
from securestore.api.docs import bp as api_docs_bp
from securestore.api.spec import create_api
from securestore.auth import sessions
from securestore.auth.views import bp as auth_bp
from securestore.backups.cli import backup
from securestore.extensions import csrf, db, login_manager, migrate, storage
from securestore.files.icons import file_icon
from securestore.files.tree_views import bp as tree_bp
from securestore.files.views import bp as files_bp
from securestore.formatting import exact_time, human_size, relative_time
from securestore.health.views import bp as health_bp
from securestore.navigation import account_links
from securestore.shares.public import bp as public_shares_bp
from securestore.shares.views import bp as shares_bp
from securestore.throttle.service import throttle
from securestore.tokens.cli import tokens
from securestore.tokens.views import bp as tokens_bp
from securestore.uploads.views import bp as direct_uploads_bp


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings, logging, extensions, blueprints, error pages, commands.

    `config` overrides what the environment says (tests pass their settings here).
    """
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=settings.instance_path_from_environ(os.environ),
    )
    configure(app, config)
    register_proxy_fix(app)
    routing.init_app(app)
    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def configure(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Load settings from the environment, apply overrides, and refuse ones that cannot work."""
    if settings.is_development():
        settings.load_development_env(app.instance_path)
    app.config.from_mapping(settings.settings_from_environ(os.environ, app.instance_path))
    if overrides:
        app.config.from_mapping(overrides)
    settings.validate(app.config)
    os.makedirs(app.instance_path, exist_ok=True)


def register_proxy_fix(app: Flask) -> None:
    """Trust X-Forwarded-* from exactly `TRUSTED_PROXY_COUNT` proxies (none by default).

    Behind the shipped nginx the count is 1: the client address, scheme and host then come
    from nginx, and a client cannot forge them by sending the headers itself.
    """
    count = app.config["TRUSTED_PROXY_COUNT"]
    if count > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count
        )


def configure_logging(app: Flask) -> None:
    """Send logs to stderr in one format; gunicorn and systemd's journal collect them."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
            "loggers": {"securestore": {"level": app.config["LOG_LEVEL"]}},
            "root": {"level": "WARNING", "handlers": ["stderr"]},
        }
    )


def register_extensions(app: Flask) -> None:
    """Bind the shared extension instances to this app."""
    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_directory())
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see your files."
    login_manager.login_message_category = "info"
    request_limits.init_app(app)  # before CSRFProtect, which parses the form
    csrf.init_app(app)
    storage.init_app(app)
    throttle.init_app(app)
    sessions.init_app(app)
    headers.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Mount the browser, health and API blueprints and the front page."""
    app.register_blueprint(auth_bp)
    app.register_blueprint(files_bp)
    app.register_blueprint(tree_bp)
    app.register_blueprint(direct_uploads_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(tokens_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(shares_bp)
    app.register_blueprint(public_shares_bp)
    # Only a bearer token authenticates the API, never a cookie, so CSRF cannot apply.
    csrf.exempt(api_bp)
    create_api(app).register_blueprint(api_bp)
    app.register_blueprint(api_docs_bp)

    @app.get("/")
    def index() -> Response:
        """Send logged-in users to their files and everyone else to the login page."""
        target = "files.index" if current_user.is_authenticated else "auth.login"
        return redirect(url_for(target))


def register_error_handlers(app: Flask) -> None:
    """Render domain and HTTP errors as pages or JSON."""
    errors.register_error_handlers(app)


def register_template_helpers(app: Flask) -> None:
    """Filters the templates use to show sizes, times and file kinds, and the account menu."""
    app.add_template_filter(human_size, "human_size")
    app.add_template_filter(relative_time, "relative_time")
    app.add_template_filter(exact_time, "exact_time")
    app.add_template_filter(file_icon, "file_icon")
    app.add_template_global(account_links, "account_links")


def register_commands(app: Flask) -> None:
    """Add the admin commands to the `flask` CLI."""
    app.cli.add_command(users)
    app.cli.add_command(invites)
    app.cli.add_command(tokens)
    app.cli.add_command(backup)


def _migrations_directory() -> str:
    # The top-level migrations/ folder is packaged as `securestore.migrations` (see
    # pyproject.toml), so `flask db upgrade` works from an installed wheel, not just a checkout.
    return str(resources.files("securestore.migrations"))
