"""What the development server's next start clears after a crash (config/devdatabase.py):
the ids of its users that are gone, and the lock files of a server that is gone. On a
folder of the test's own, with processes the test starts; the template's tests kill a
real one (bin/dev, its processes and the server) and start bin/dev again."""

import json
import os
import subprocess
import sys
import time

import psutil
import pytest

from config import devdatabase


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(devdatabase, "DATA_DIR", tmp_path)
    monkeypatch.setattr(devdatabase, "USERS_FILE", tmp_path / ".handle_pids.json")
    monkeypatch.setattr(devdatabase, "STARTS_FILE", tmp_path / ".handle_starts.json")
    return tmp_path


def gone_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    return process.pid


@pytest.fixture
def zombie_pid():
    """A process that has exited and that no one has reaped yet: the state a killed
    server stays in until an init reaps it, which some containers' never do."""
    process = subprocess.Popen([sys.executable, "-c", ""])
    deadline = time.monotonic() + 10
    while psutil.Process(process.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield process.pid
    process.wait()


def write_lock_files(data_dir, pid: int) -> None:
    """postmaster.pid and the socket's lock file, as PostgreSQL writes them."""
    lines = [str(pid), str(data_dir), "1796574981", "5432", str(data_dir), "", "1 2", "ready"]
    (data_dir / "postmaster.pid").write_text("\n".join(lines) + "\n")
    (data_dir / ".s.PGSQL.5432.lock").write_text("\n".join(lines[:5]) + "\n")


@pytest.mark.parametrize("holder", ["gone", "zombie", "another program"])
def test_the_lock_files_of_a_server_that_is_gone_are_removed(data_dir, zombie_pid, holder):
    pid = {"gone": gone_pid(), "zombie": zombie_pid, "another program": os.getpid()}[holder]
    write_lock_files(data_dir, pid)
    devdatabase._forget_dead_server()
    assert not (data_dir / "postmaster.pid").exists()
    assert not (data_dir / ".s.PGSQL.5432.lock").exists()


def test_the_lock_files_of_a_running_server_are_kept(data_dir):
    # A postmaster's command line names its data folder (postgres -D <folder>).
    sleep = "import time; time.sleep(30)"
    with subprocess.Popen([sys.executable, "-c", sleep, "-D", str(data_dir)]) as server:
        # Until it has exec'd, the child carries this process's command line.
        deadline = time.monotonic() + 10
        while str(data_dir) not in psutil.Process(server.pid).cmdline():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        write_lock_files(data_dir, server.pid)
        devdatabase._forget_dead_server()
        server.kill()
    assert (data_dir / "postmaster.pid").exists()
    assert (data_dir / ".s.PGSQL.5432.lock").exists()


def test_users_gone_unreaped_or_whose_id_was_reused_are_forgotten(data_dir, zombie_pid):
    me, parent = os.getpid(), os.getppid()
    devdatabase.USERS_FILE.write_text(json.dumps([me, gone_pid(), zombie_pid, parent]))
    devdatabase._record_start(me)
    # The parent's id, recorded with another start time: a user that exited, whose id a
    # new process took.
    starts = json.loads(devdatabase.STARTS_FILE.read_text()) | {str(parent): 1.0}
    devdatabase.STARTS_FILE.write_text(json.dumps(starts))

    devdatabase._forget_gone_users()
    assert json.loads(devdatabase.USERS_FILE.read_text()) == [me]
    assert list(json.loads(devdatabase.STARTS_FILE.read_text())) == [str(me)]


def test_a_list_of_users_left_empty_by_a_kill_mid_write_is_written_again(data_dir):
    """The package reads the list as JSON and cannot start from an empty file."""
    devdatabase.USERS_FILE.write_text("")
    devdatabase._forget_gone_users()
    assert json.loads(devdatabase.USERS_FILE.read_text()) == []


def test_a_user_whose_id_an_earlier_user_had_stays_listed(data_dir):
    """Ids come back: the start time an earlier process left under this one's id must
    not make a clean-up (another process's start or exit) drop it once it is listed."""
    me = os.getpid()
    (data_dir / "PG_VERSION").write_text("18\n")
    devdatabase.STARTS_FILE.write_text(json.dumps({str(me): 1.0}))
    devdatabase.USERS_FILE.write_text("[]")
    devdatabase._prepare(me)
    devdatabase.USERS_FILE.write_text(json.dumps([me]))  # the package lists it
    devdatabase._forget_gone_users()
    assert json.loads(devdatabase.USERS_FILE.read_text()) == [me]
