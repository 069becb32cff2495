"""The harness's two exceptions."""


class BenchError(Exception):
    pass


class Skip(Exception):
    pass
