"""Error reporting is off unless SENTRY_DSN is set; set, it files errors without personal data."""

from tests.conftest import run_python

REPORTING = """
import sys
import django
django.setup()
if "sentry_sdk" not in sys.modules:
    print("reporting: off")
else:
    import sentry_sdk
    options = sentry_sdk.get_client().options
    print(f"reporting: {options['release']} pii={options['send_default_pii']}")
"""


def test_nothing_is_loaded_without_a_dsn(production_env):
    result = run_python(REPORTING, production_env | {"SENTRY_DSN": ""})
    assert result.stdout.strip() == "reporting: off", result.stderr


def test_reports_name_the_release_and_carry_no_personal_data(production_env):
    environ = production_env | {
        "SENTRY_DSN": "http://public@127.0.0.1:9/1",
        "GIT_REVISION": "3f2a9c1",
    }
    result = run_python(REPORTING, environ)
    assert result.stdout.strip() == "reporting: 3f2a9c1 pii=False", result.stderr
