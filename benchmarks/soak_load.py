"""Background load for ``soak_suite.sh``: one process that holds 2 GiB and keeps a core busy.

On the 2-core reference machine this leaves the test suite one free core and 2 GiB less
memory for as long as it runs. Stop it with a signal (``soak_suite.sh`` kills it at the end).
"""

BALLAST_BYTES = 2 * 1024**3


def main() -> None:
    """Touch every page of a 2 GiB buffer, then spin until killed."""
    ballast = bytearray(BALLAST_BYTES)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    x = 0
    while True:  # pure-Python busy loop: 100% of one core until killed
        x = (x * 1103515245 + 12345) % 2**31


if __name__ == "__main__":
    main()
