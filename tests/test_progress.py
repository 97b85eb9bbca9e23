"""Progress where it is written: a terminal gets tqdm's bar; a log file or pipe gets whole lines now and then and a
last line with the count, never carriage-return frames (#30 item 11)."""

import io

import emoscore.progress as progress_module
from emoscore.progress import Progress
from tests.helpers import photo, score_in_a_process


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_piped_progress_is_whole_lines_and_ends_with_the_count(monkeypatch):
    out = io.StringIO()
    for _ in Progress(range(7), desc="scoring", unit="img", file=out):
        pass
    lines = out.getvalue().split("\n")
    assert "\r" not in out.getvalue() and lines[-1] == ""
    assert lines[0].startswith("scoring:   0% 0/7") and lines[-2].startswith("scoring: 100% 7/7")
    unknown = io.StringIO()
    bar = Progress(desc="reading film", unit="frame", file=unknown)
    bar.update(12)
    bar.close()
    assert unknown.getvalue().splitlines()[-1].startswith("reading film: 100% 12/12")


def test_piped_progress_writes_a_line_each_interval_not_each_update(monkeypatch):
    clock = iter(range(0, 10_000, 10))
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: float(next(clock)))
    out = io.StringIO()
    with Progress(total=100, desc="scoring", file=out, mininterval=0) as bar:
        for _ in range(100):
            bar.update(1)
    lines = out.getvalue().splitlines()
    assert 30 <= len(lines) <= 40  # a line per 30 s of a 10 s-per-update clock, plus the first and the last
    assert lines[-1].startswith("scoring: 100% 100/100")


def test_a_terminal_still_gets_the_bar():
    out = Terminal()
    with Progress(total=3, desc="scoring", file=out) as bar:
        bar.update(3)
    assert out.getvalue().count("\r") == 2 and "100%|" in out.getvalue()  # frames redrawn in place, a bar


def test_emoscore_score_piped_to_a_log_has_no_frames(project, tmp_path):
    for name in ("a.jpg", "b.jpg"):
        photo(tmp_path / "library" / name)
    run = score_in_a_process(str(tmp_path / "library"), str(tmp_path / "cat"), project / "params.yaml")
    assert run.returncode == 0, run.stderr
    assert "\r" not in run.stderr
    assert "scoring: 100% 2/2" in run.stderr
