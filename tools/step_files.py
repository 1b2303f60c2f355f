"""Which of the package's files one training step runs code in: the recipe is started as
``recipes/train.py`` would be, and the first ``fit_batch`` call of the Brain is traced
(``sys.setprofile``); the process ends when it returns.

Usage::

    python tools/step_files.py hparams/lcnn_inf_ini.yaml [recipe overrides...]
"""

import os
import pathlib
import runpy
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = str(ROOT / "speechbrain_ssdctx")


def main() -> None:
    crossed: dict[str, int] = {}
    depth = 0

    def profile(frame, event, arg):
        nonlocal depth
        code = frame.f_code
        if code.co_name == "fit_batch" and event in ("call", "return"):
            depth += 1 if event == "call" else -1
            if event == "return" and depth == 0:
                report(crossed)
        if depth and event == "call" and code.co_filename.startswith(PACKAGE):
            crossed[code.co_filename] = crossed.get(code.co_filename, 0) + 1

    sys.argv = [str(ROOT / "recipes" / "train.py"), *sys.argv[1:]]
    sys.setprofile(profile)
    runpy.run_path(sys.argv[0], run_name="__main__")


def report(crossed: dict[str, int]) -> None:
    sys.setprofile(None)
    files = sorted(crossed)
    lines = sum(len(pathlib.Path(f).read_text().splitlines()) for f in files)
    print(f"one training step runs code in {len(files)} files of the package ({lines} lines):")
    for name in files:
        print(f"  {pathlib.Path(name).relative_to(ROOT)}  ({crossed[name]} calls)")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
