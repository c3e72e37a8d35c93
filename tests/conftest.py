"""Puts this folder on sys.path (pytest's rootdir-less import mode), so tests import the oracles here."""
import ssd_npu  # noqa: F401  (first, before torch: it sets OpenMP's wait policy, see ssd_npu/__init__.py)
