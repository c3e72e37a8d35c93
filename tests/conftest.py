"""Puts this folder on sys.path (pytest's rootdir-less import mode), so tests import the oracles here."""
import ssd_npu  # noqa: F401  (first, before torch: it sets OpenMP's wait policy, see ssd_npu/__init__.py)


def pytest_collection_modifyitems(items) -> None:
    """Slow tests first, the README demo (minutes) before them: with ``-n auto`` (pytest-xdist) the
    long tests start at once and the short ones fill the other workers, instead of a long test
    starting last and running alone."""
    items.sort(key=lambda item: (item.get_closest_marker('longest') is None,
                                 item.get_closest_marker('slow') is None))
