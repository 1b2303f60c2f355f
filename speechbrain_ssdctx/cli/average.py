"""``ssdctx-average``: average the weights of the best or last N checkpoints of a run.

Examples
--------
::

    # the 5 checkpoints with the lowest dev EER of a run (its output folder or save/)
    ssdctx-average results/lcnn_inf_ini/1 --num 5
    # the last 3, then export that average
    ssdctx-average results/lcnn_inf_ini/1 --num 3 --by last
    ssdctx-export results/lcnn_inf_ini/1 exported/lcnn-avg --average 3 --average-by last

The average is saved as one more checkpoint of the run, ``save/CKPT+averaged`` (an earlier
one is replaced): module weights averaged (integer buffers such as BatchNorm's
``num_batches_tracked`` from the most recent checkpoint), the other files copied from the
most recent one. Its meta data has no dev EER, so nothing picks it as the best checkpoint
unless asked (``ssdctx-export --average``, ``--checkpoints save/CKPT+averaged``), and a
resumed training run never restarts from it. Training keeps one best checkpoint unless
the recipe's ``average_checkpoints: N`` made it keep N.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from speechbrain_ssdctx.cli.broken_pipe import quiet_on_closed_reader
from speechbrain_ssdctx.cli.score import positive_int
from speechbrain_ssdctx.training.averaging import AVERAGE_BY, average_run_checkpoints
from speechbrain_ssdctx.training.checkpoints import CheckpointError

__all__ = ["checkpoints_folder", "main"]


def checkpoints_folder(path: str | Path) -> Path:
    """The checkpoint folder of a run's output folder (its ``save/``), or ``path`` itself.

    Example
    -------
    >>> checkpoints_folder("no/such/run")
    PosixPath('no/such/run')
    """
    path = Path(path)
    return path / "save" if (path / "hyperparams.yaml").is_file() else path


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line of ``ssdctx-average``."""
    parser = argparse.ArgumentParser(prog="ssdctx-average", description=__doc__.split("\n")[0])
    parser.add_argument("run", help="the run's output folder, or its checkpoint folder (save/)")
    parser.add_argument("--num", type=positive_int, required=True,
                        help="how many checkpoints to average")
    parser.add_argument("--by", choices=AVERAGE_BY, default="best",
                        help="best: the lowest dev EER; last: the most recent (default: best)")
    return parser.parse_args(argv)


@quiet_on_closed_reader
def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``ssdctx-average``; returns the exit status."""
    args = parse_args(argv)
    try:
        checkpoint = average_run_checkpoints(checkpoints_folder(args.run), args.num, args.by)
    except BrokenPipeError:
        raise
    except (OSError, ValueError, CheckpointError) as error:
        print(f"ssdctx-average: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    names = ", ".join(checkpoint.meta["averaged_from"])
    print(f"averaged {args.num} checkpoints ({args.by}: {names}) into {checkpoint.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
