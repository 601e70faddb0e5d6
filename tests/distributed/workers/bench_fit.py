"""Under mpiexec: fit alpha, beta (ping-pong) and gamma; rank 0 prints them as JSON.

Used by tests/distributed/test_cost_model.py.
"""

import json

from mpi4py import MPI

from minigrad.distributed import cost_model

comm = MPI.COMM_WORLD
link = cost_model.fit_alpha_beta(comm, repeat=5)
gamma = cost_model.measure_gamma(comm, sizes=(1 << 16, 1 << 22), repeat=3)
results = comm.gather((link, gamma), root=0)
if comm.Get_rank() == 0:
    print(json.dumps({"link": link.to_dict(), "gamma": gamma.to_dict(),
                      "same_on_every_rank": all(r == (link, gamma) for r in results)}))
