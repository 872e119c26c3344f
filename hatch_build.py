"""Build hook: the wheel carries the built web page (frontend/ -> server/static).

The page is built with npm from frontend/ when the build finds it missing;
`make frontend` rebuilds it when its sources change. An editable install
without npm still installs: `runlab ui` then says the page is not built.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

STATIC = Path("src/runlab/server/static")


class FrontendBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        if not (root / STATIC / "index.html").is_file():
            self._build_page(root, required=version != "editable")
        # Built files are ignored by git, which hatch would otherwise follow.
        build_data["artifacts"].append(f"/{STATIC.as_posix()}")

    def _build_page(self, root: Path, *, required: bool) -> None:
        npm = shutil.which("npm")
        frontend = root / "frontend"
        if npm is None or not (frontend / "package.json").is_file():
            if required:
                raise RuntimeError("Building the web page needs npm and frontend/.")
            self.app.display_warning("npm not found: the web page is not built.")
            return
        for step in (["ci", "--no-audit", "--no-fund"], ["run", "build"]):
            subprocess.run([npm, *step], cwd=frontend, check=True)
