"""Puts this folder on sys.path (pytest's rootdir-less import mode), so tests import the oracles here."""
