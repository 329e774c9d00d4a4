from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    """Folder of the real-format reader fixtures (see fixtures/make_fixtures.py)."""
    return FIXTURES


@pytest.fixture
def write(tmp_path):
    """Write ``text`` (str or bytes) to ``tmp_path / name`` and return the path."""

    def _write(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    return _write
