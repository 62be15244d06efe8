"""Renders a greeting with autoescaping on: the clean counterpart of demo-app."""

from jinja2 import Environment, select_autoescape

ENV = Environment(autoescape=select_autoescape(default=True))


def greet(name: str) -> str:
    """Returns an HTML greeting for `name`, escaped."""
    return ENV.from_string("<p>Hello, {{ name }}!</p>").render(name=name)
