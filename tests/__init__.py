"""The whole-system tests and the repository's own checks; the helpers every test folder shares are in `support`.

A package (not a folder of bare modules on pytest's `pythonpath`) so that tests anywhere in the repository,
bench/ and scripts import one helper by one name: `from tests.support.peers import Kannel`.
"""
