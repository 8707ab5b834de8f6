"""The clock process: metronome ticks, one clock at a time, clean exit on SIGTERM."""
import os
import signal
import subprocess
import sys
import threading
import time

from bcp_service import scheduler as clock_module
from bcp_service.db import db
from bcp_service.leader import ClockLock
from bcp_service.scheduler import Schedule, Tick


def test_metronome_runs_every_tick_and_survives_a_failing_one(app):
    seen = []

    def _good(app_):
        seen.append("good")

    def _bad(app_):
        raise RuntimeError("boom")

    # The schedule lives on this test's app: nothing to restore afterwards.
    app.extensions["schedule"] = Schedule(ticks=(Tick("test-good", _good), Tick("test-bad", _bad)))
    results = clock_module.run_metronome_once(app)
    assert results["test-good"] == "ok" and results["test-bad"] == "error"
    assert seen == ["good"]


def test_second_clock_stands_by_while_first_holds_the_lock(app):
    first, second = ClockLock(db.engine), ClockLock(db.engine)
    try:
        assert first.acquire()
        assert not second.acquire()
        assert first.still_held()
        first.release()
        assert second.acquire()
    finally:
        first.release()
        second.release()


def test_clock_thread_stops_when_asked(app):
    stop = threading.Event()
    thread = threading.Thread(target=clock_module.run_clock, args=(app,), kwargs={"stop_event": stop})
    thread.start()
    time.sleep(0.5)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_clock_process_exits_cleanly_on_sigterm(tmp_path):
    env = {**os.environ, "BCP_ENV": "development", "DATABASE_URL": f"sqlite:///{tmp_path / 'clock.sqlite'}"}
    subprocess.run([sys.executable, "-m", "bcp_service.cli", "db", "upgrade"], env=env, check=True,
                   capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "bcp_service.cli", "clock"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        output = ""
        while "clock: running" not in output and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output += line
        assert "clock: running" in output, output
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
