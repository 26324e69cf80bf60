"""The REST face: ``create_app`` builds the control plane's FastAPI application."""

from shipyard.api.app import create_app

__all__ = ["create_app"]
