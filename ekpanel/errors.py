"""Error pages in the panel's language, never a stack trace."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError


def register(app: Flask) -> None:
    for status in (400, 403, 404, 429, 500):
        app.register_error_handler(status, _error_page(status))
    app.register_error_handler(CSRFError, lambda e: (render_template("errors/error.html", status=400), 400))


def _error_page(status: int):
    def handler(error):
        return render_template("errors/error.html", status=status), status

    return handler
