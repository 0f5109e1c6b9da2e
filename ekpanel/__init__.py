"""ekpanel: e-mail document intake for an accounting office."""

from __future__ import annotations

from flask import Flask, request
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from ekpanel.config import PROJECT_DIR, engine_options, load_config
from ekpanel.extensions import babel, csrf, db, limiter, login_manager, migrate


def create_app(config: dict | None = None) -> Flask:
    """The application factory: settings from the environment, then ``config`` on top (tests use it)."""
    settings = load_config()
    settings.update(config or {})
    # From the database the app really uses (a test's, say), unless given.
    settings.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        engine_options(settings["SQLALCHEMY_DATABASE_URI"], int(settings["WORKER_THREADS"])),
    )
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_DIR"],
        template_folder=str(PROJECT_DIR / "templates"),
        static_folder=str(PROJECT_DIR / "static"),
    )
    app.config.update(settings)
    if app.config["PROXY_HOPS"]:
        # Behind TLS termination: the client's address, and https in url_for(_external=True).
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    register_extensions(app)
    register_blueprints(app)
    register_cli(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_htmx(app)
    register_security_headers(app)
    return app


def register_extensions(app: Flask) -> None:
    from ekpanel import models  # noqa: F401  (every table known before migrations look)
    from ekpanel.accounts.sessions import load_user

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_DIR / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None  # the login page says enough
    login_manager.user_loader(load_user)


def select_locale() -> str:
    if current_user and current_user.is_authenticated:
        return current_user.language
    return "pl"  # the office works in Polish; English is a per-user choice


def register_blueprints(app: Flask) -> None:
    from ekpanel.accounts.routes import bp as accounts_bp
    from ekpanel.admin.routes import bp as admin_bp
    from ekpanel.alerts.routes import bp as alerts_bp
    from ekpanel.checks.routes import bp as checks_bp
    from ekpanel.companies.routes import bp as companies_bp
    from ekpanel.documents.routes import bp as documents_bp
    from ekpanel.servers.consent import bp as consent_bp
    from ekpanel.servers.routes import bp as servers_bp

    for bp in (
        accounts_bp,
        admin_bp,
        companies_bp,
        documents_bp,
        servers_bp,
        consent_bp,
        checks_bp,
        alerts_bp,
    ):
        app.register_blueprint(bp)

    # Every page needs a login, except the login page itself and static files.
    @app.before_request
    def require_login():
        if request.endpoint in (None, "static", "accounts.login"):
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return None


def register_cli(app: Flask) -> None:
    from ekpanel.cli import register

    register(app)


def register_errorhandlers(app: Flask) -> None:
    from ekpanel.errors import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from ekpanel.templating import register

    register(app)


def register_htmx(app: Flask) -> None:
    from ekpanel.htmx import register

    register(app)


def register_security_headers(app: Flask) -> None:
    from ekpanel.security_headers import register

    register(app)
