"""What every benchmark's JSON holds about the machine, and how it is written."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """Python version, CPU count, load average and platform of this machine."""
    return {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
    }


def emit(result: dict[str, Any], out: str | Path | None) -> str:
    """Print ``result`` as JSON and write it to ``out`` (folders created) when given."""
    text = json.dumps(result, indent=2)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    print(text)
    return text
