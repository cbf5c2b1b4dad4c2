"""Model-based control with sparse neural dynamics.

After Liu, Zhou, He, Marcucci, Fei-Fei, Wu & Li, "Model-Based Control with Sparse
Neural Dynamics" (NeurIPS 2023): learn ReLU / graph-network dynamics, remove redundant
neurons, and plan exactly with a mixed-integer MPC (Pyomo + HiGHS).
"""

__all__: list[str] = []
