"""The project's configuration: settings, server, probes and one module per attached
resource (config/env.py composes their variables)."""

import os

# pydantic looks through every installed package's entry points for plugins (logfire's,
# say) when it builds its first model: 8 ms of gunicorn's master, before it binds its
# port. None is installed; set PYDANTIC_DISABLE_PLUGINS to an empty value to load them.
# https://docs.pydantic.dev/latest/api/plugin/
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
