"""bench/run.py's modules (stdlib only): config, errors, scenarios, procs, machine,
tokens, servers, measure, report. run.py is the entry point."""
