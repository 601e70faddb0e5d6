"""Run under `mpiexec -n N` as `ddp_train_cli.py FOLDER train ARGS...`: `minigrad train ARGS...`
with each rank working in its own directory FOLDER/rankR/ (made here), so that a test can
see which ranks wrote files."""

import os
import sys
from pathlib import Path

from minigrad.cli import main

# mpiexec tells each process its rank; minigrad.distributed is not initialised yet
rank = os.environ.get("PMI_RANK") or os.environ.get("OMPI_COMM_WORLD_RANK") or "0"
folder = Path(sys.argv[1]) / f"rank{rank}"
folder.mkdir(parents=True, exist_ok=True)
os.chdir(folder)
raise SystemExit(main(sys.argv[2:]))
