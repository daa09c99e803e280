"""``python -m vitreous.cli``."""

from vitreous.cli.main import app

app()
