"""The WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

from securestore import create_app

app = create_app()
