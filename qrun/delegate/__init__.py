"""The C delegate: partitioner, plan builder and the per-ISA compiled executors."""


def get_delegate(num_threads: int = 1):
    """The delegate that runs supported ops in C, or None while no compiled module exists."""
    return None
