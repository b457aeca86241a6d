"""The repository's own tests beyond each distribution's: whole-system tests, repository checks, shared helpers.

    system/   smsgate run as a whole: `smsgate serve` processes SIGKILLed and restarted, several instances on
              PostgreSQL, hostile input, secrets, the browser console, the docs' commands and tutorial
    repo/     the repository itself: ruff and mypy, the lock, packaging, cassettes, no path outside the clone,
              the test peers, the docs' alert rules
    support/  helpers the tests of every folder share, imported as `tests.support.<module>`

A package (not a folder of bare modules on pytest's `pythonpath`), so tests anywhere in the repository, bench/
and scripts import a helper by one name: `from tests.support.peers import Kannel`.
"""
