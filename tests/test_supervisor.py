"""The supervisor's log files: one per child, rotated by size."""

import sys
import time

from beamtime import supervisor
from beamtime.supervisor import Supervisor


def test_each_child_logs_to_a_rotated_file_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(supervisor, "LOG_MAX_BYTES", 10_000)
    monkeypatch.setattr(supervisor, "LOG_BACKUPS", 2)
    boss = Supervisor(log_dir=tmp_path)
    talker = boss.start("talker", [sys.executable, "-c", "for i in range(3000): print('line', i)"])
    boss.start("quiet one", [sys.executable, "-c", "import sys; sys.stderr.write('oops\\n')"])
    talker.wait(30)
    try:
        for _ in range(100):  # the copying thread drains the pipe
            if (tmp_path / "talker.log").read_text().endswith("line 2999\n"):
                break
            time.sleep(0.1)
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == ["quiet-one.log", "talker.log", "talker.log.1", "talker.log.2"]
        assert all(p.stat().st_size <= 10_000 for p in tmp_path.iterdir())
        assert (tmp_path / "talker.log").read_text().endswith("line 2999\n")
        assert (tmp_path / "quiet-one.log").read_text() == "oops\n"  # stderr too
    finally:
        boss.stop()
