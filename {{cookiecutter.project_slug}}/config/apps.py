from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project's infrastructure as an app, so Django runs its system checks."""

    name = "config"
    verbose_name = "Configuration"

    def ready(self):
        from config import checks  # noqa: F401 (importing registers the checks)
        from config.signin import connect_lockout_log

        connect_lockout_log()
