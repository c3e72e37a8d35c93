"""A rendezvous port for jobs whose ranks all run on this host."""
import socket


def free_local_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the kernel picks it), for ``MASTER_PORT``.

    Another process may take it before the job binds it; on one host that race is rare enough for
    launching local ranks, benchmarks and checks, and a taken port fails the rendezvous loudly.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]
