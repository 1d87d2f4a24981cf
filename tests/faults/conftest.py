"""The fault suite's results: one row per scenario, printed as a table at the end of the run and
written to build/faults/results.json (what README's fault table is made from)."""
import json
import os

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(TOP, "build", "faults")
COLUMNS = [("scenario", "scenario"), ("acked", "acknowledged posts"), ("lost", "lost"),
           ("duplicated", "stored twice"), ("out_of_order", "out of order"), ("gaps", "gaps"),
           ("refused", "503s"), ("refused_for_s", "refused for (s)"),
           ("unknown", "unanswered"), ("cut", "clients cut"),
           ("back_within_s", "all back within (s)"), ("shm_growth_kb", "shm after - before (KiB)")]
ROWS = []


def pytest_configure(config):
    config.addinivalue_line("markers", "short: a scenario of the short fault suite (make test)")


@pytest.fixture(scope="session")
def results():
    return ROWS


def table(rows):
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |",
             "|" + " --- |" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(key, "")) for key, _ in COLUMNS) + " |")
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(ROWS, f, indent=1)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(table(ROWS) + "\n")
    terminalreporter.write_sep("=", "faults under load (build/faults/results.md)")
    terminalreporter.write_line(table(ROWS))
