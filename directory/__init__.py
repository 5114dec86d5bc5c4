"""The partner directory and warm-referral network of an anti-trafficking coalition."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from directory import config as settings
from directory import db, i18n, ops
from directory.extensions import csrf, limiter, login_manager
from directory.inputs import IntConverter, JSONProvider, JSONRequest

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: defaults, then DIRECTORY_* environment variables, then ``config``."""
    loaded = settings.load(config)
    app = Flask(
        __name__,
        instance_path=loaded["INSTANCE_PATH"],
        template_folder=str(settings.PROJECT_ROOT / "templates"),
        static_folder=str(settings.PROJECT_ROOT / "static"),
    )
    app.config.update(loaded)
    # Bounded numbers in URLs and bounded JSON bodies: bad input is a 400, never a 500.
    app.url_map.converters["int"] = IntConverter  # before any route is added
    app.json = JSONProvider(app)
    app.request_class = JSONRequest
    _configure_logging(app)

    db.init_app(app)
    ops.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)

    from directory import audit, mail
    from directory.accounts import auth
    from directory.accounts.views import bp as accounts_bp
    from directory.admin.views import bp as admin_bp
    from directory.api import auth as api_auth
    from directory.api.pages import bp as tokens_bp
    from directory.api.views import bp as api_bp
    from directory.audit.views import bp as audit_bp
    from directory.hsds.api import bp as hsds_api_bp
    from directory.hsds.views import bp as hsds_bp
    from directory.ops.views import bp as ops_bp
    from directory.orgs.editing import bp as listing_bp
    from directory.orgs.views import bp as orgs_bp
    from directory.referrals.views import bp as referrals_bp
    from directory.reports.views import bp as reports_bp
    from directory.web import errors, security, templating
    from directory.web.views import bp as web_bp

    auth.init_app(app)
    api_auth.init_app(app)
    mail.init_app(app)
    audit.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    app.register_blueprint(web_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(orgs_bp)
    app.register_blueprint(listing_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(hsds_bp)
    app.register_blueprint(hsds_api_bp)
    app.register_blueprint(referrals_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(tokens_bp)
    app.register_blueprint(ops_bp)
    return app


def _configure_logging(app: Flask) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    app.logger.setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
