"""Where computed steps are kept. Wiping a cache loses nothing but time."""

import json
import os
import tempfile
from pathlib import Path


class DiskCache:
    """One JSON file per step in a folder (the default: persists across restarts)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get_bundle(self, key: str):
        try:
            return json.loads(self._path(key).read_text())
        except (OSError, ValueError):  # absent, or damaged by a crash: compute it again
            return None

    def set_bundle(self, key: str, data) -> None:
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        # Write then rename: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)

    def __contains__(self, key: str) -> bool:
        return self._path(key).exists()
