"""Helpers shared by the tests of every folder (core/tests, cli/tests, adapters/*/tests, tests/) and bench/.

    peers           real peer servers on 127.0.0.1 (httpbin, Prism, Kannel, PostgreSQL, Jasmin), stopped by PID
    served          `smsgate serve` in a subprocess on a config file
    stored          what such a subprocess stored, waited on from the test (the adapters' end-to-end tests)
    aggregator      a stub aggregator counting the sends and webhooks of `smsgate serve` processes
    hostile         hostile inbound requests and what the gateway must answer (hostile-input tests, fuzzer)
    toy_adapter     a small adapter exercising the whole adapter contract
    rawsql          one SQL statement on a harness's database, SQLite or PostgreSQL
    store_workload  every read and write of a store once, for the query-plan tests of both backends
    layout          the layout rules of an adapter package (tests/repo, and what `smsgate adapter new` writes)
    standin         the catalogue adapters' aggregator stand-ins (adapters/<name>/tests/<name>_standin.py): the
                    server they run, `StandIn` (a child process stopped by PID), and a send table through them

Plain modules: importing one starts nothing. The repository root is on pytest's `pythonpath`, so tests import
them as `tests.support.<module>`; scripts run from a checkout put the root on `sys.path` first.
"""
