"""gunicorn.conf.py's hooks, called in the order gunicorn calls them, in a fresh process."""

from tests.conftest import run_python

HOOKS = """
import gc, importlib, runpy

server = runpy.run_path("gunicorn.conf.py")
assert not gc.isenabled(), "the collector runs while the master imports"
server["pre_fork"](None, None)
frozen = gc.get_freeze_count()
assert frozen > 0, "the master's imports are not frozen"
assert gc.isenabled(), "the master does not collect its own garbage"
server["post_fork"](None, None)
assert not gc.isenabled(), "the collector runs while the worker imports the application"
importlib.import_module(server["wsgi_app"].partition(":")[0])
server["post_worker_init"](None)
assert gc.get_freeze_count() > frozen, "the application's import is not frozen"
assert gc.isenabled(), "the worker never collects"
"""


def test_the_collector_is_off_while_importing_and_on_while_serving(production_env):
    result = run_python(HOOKS, production_env)
    assert result.returncode == 0, result.stderr
