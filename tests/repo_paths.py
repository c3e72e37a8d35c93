"""Where the tests find the repository's files (tests/ is on sys.path: ``from repo_paths import ...``)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS_DIR = REPO / 'configs'
