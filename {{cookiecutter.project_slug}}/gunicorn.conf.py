"""Gunicorn settings, read from the validated environment (config/env.py).

Loading the environment here makes a misconfigured server exit before it binds its
port, with the list of problems, instead of failing in every worker.
https://docs.gunicorn.org/en/stable/settings.html
"""

import gc
import os
import sys

# Python's recipe for a server that forks: the cyclic garbage collector stays off while
# the master and then each worker import (it scans the same young objects again and
# again: 28 of the 490 ms of CPU to the first 200, measured), and what they imported,
# which lives as long as the process, is frozen out of its reach before it is turned
# back on. Frozen objects are never scanned again, by the master's collections or a
# worker's, so the pages the workers share with the master stay shared. Only the cycles
# left over from importing (about 1,300 objects) are never freed.
# https://docs.python.org/3/library/gc.html#gc.freeze
gc.disable()

from config import telemetry
from config.accesslog import AccessLogger
from config.env import load
from config.logs import logging_config

if os.environ.get("DJANGO_BUILD") == "1":
    sys.exit("DJANGO_BUILD=1 is for the image build's collectstatic; unset it to serve.")

env = load()

{% if cookiecutter.web_interface == "wsgi" -%}
wsgi_app = "config.wsgi:application"
# Threads let a process overlap requests that wait on the database or the network;
# processes add CPU parallelism. gunicorn's gthread worker, which on SIGTERM also answers
# the connections waiting in the listen queue (config/webworker.py).
worker_class = "config.webworker.DrainingThreadWorker"
threads = env.WEB_THREADS
{%- else -%}
wsgi_app = "config.asgi:application"
# uvicorn's worker for gunicorn, which on SIGTERM also answers the connections waiting in
# the listen queue (config/webworker.py).
worker_class = "config.webworker.DrainingUvicornWorker"
{%- endif %}
workers = env.WEB_CONCURRENCY

# All interfaces: in a container or on a platform the router reaches us from outside.
bind = f"0.0.0.0:{env.PORT}"

# A worker that does not report for this long is stuck and gets replaced.
timeout = env.WEB_TIMEOUT
# On SIGTERM, in-flight requests get this long to finish. Platforms kill the process
# 30 s after SIGTERM (Heroku, Kubernetes' default grace period); 25 s leaves the
# master time to reap its workers and exit 0 first.
graceful_timeout = 25
# Longer than the idle timeout of the load balancer in front (60 s on AWS ALB), so it
# is always the balancer that closes an idle connection, never us mid-request.
keepalive = 75

# Worker heartbeats are file writes: on tmpfs they cannot stall on a slow disk, and
# they work with a read-only root filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# No control socket (gunicorn 25.1+ opens one in $HOME by default): the platform
# manages processes with signals, and $HOME may be read-only or shared.
control_socket_disable = True

# X-Forwarded-Proto is believed only from these addresses.
forwarded_allow_ips = env.FORWARDED_ALLOW_IPS

# Access and error logs join the application's stream on stdout.
accesslog = "-"
logger_class = AccessLogger
loglevel = env.LOG_LEVEL.lower()
logconfig_dict = logging_config(env.LOG_LEVEL, env.LOG_FORMAT)


def when_ready(server):
    server.log.info("Serving release %s on port %s", env.GIT_REVISION, env.PORT)


def pre_fork(server, worker):
    # The master keeps collecting its own garbage between forks; its imports are frozen.
    gc.freeze()
    gc.enable()


def post_fork(server, worker):
    gc.disable()  # until the application is imported (post_worker_init)
    # OpenTelemetry, when configured, per worker: its exporter threads would not survive
    # a fork, and the master serves no request (config/telemetry.py).
    telemetry.start(env, env.GIT_REVISION)


def post_worker_init(worker):
    gc.freeze()
    gc.enable()


def worker_exit(server, worker):
    # The spans of the last requests leave before the worker does.
    telemetry.stop()
