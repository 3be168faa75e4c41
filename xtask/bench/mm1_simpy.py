"""The M/M/1 queue of `faultline demo`, written for SimPy: the peer that
`cargo xtask bench-simpy` times against Faultline on the same model.

Poisson arrivals at rate LAMBDA, one server with exponential service at
rate MU (load LAMBDA/MU), CUSTOMERS customers in all; the idiomatic SimPy
form, a Resource of capacity one and a process per customer. Prints the
customers served and the mean time in system, which must be close to
theory's 1/(MU - LAMBDA): a peer that simulated less would look faster.

usage: python mm1_simpy.py CUSTOMERS [SEED]
"""

import random
import sys

import simpy

LAMBDA = 0.9
MU = 1.0


def main():
    customers = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    served = [0, 0.0]

    def customer():
        arrived = env.now
        with server.request() as req:
            yield req
            yield env.timeout(rng.expovariate(MU))
        served[0] += 1
        served[1] += env.now - arrived

    def source():
        for _ in range(customers):
            yield env.timeout(rng.expovariate(LAMBDA))
            env.process(customer())

    env.process(source())
    env.run()
    print(f"served {served[0]} mean_in_system {served[1] / served[0]:.4f}")


if __name__ == "__main__":
    main()
