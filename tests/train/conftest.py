import torch

# the CI machine has two cores shared with other jobs: one thread per test process
torch.set_num_threads(1)
