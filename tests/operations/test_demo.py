"""`make demo`, the quick start's first command: the whole loop against the local fakes,
in a fresh process with nothing configured, and every screen it promises printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_demo_goes_round_the_loop_with_no_configuration(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "INTERCOM_", "HITL_"))
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        cwd=tmp_path,  # no .env here
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert out.count("4. callback     → Intercom answered 200") >= 3
    for screen in (
        "message preview: https://app.slack.com/block-kit-builder/",
        "form preview: https://app.slack.com/block-kit-builder/",
        "Home tab of U0DEMO: https://app.slack.com/block-kit-builder/",
        "precedent on the card: https://app.slack.com/block-kit-builder/",
        "U0DEMO is on it: https://app.slack.com/block-kit-builder/",
        "waiting out the window: https://app.slack.com/block-kit-builder/",
        "U0DEMO took the answer back",
        "All sample steps went round the loop.",
    ):
        assert screen in out, screen
    assert "Traceback" not in done.stderr
