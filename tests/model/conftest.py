import torch

# On the shared 2-core machine torch's intra-op threads spin against the other jobs: the tiny
# networks of these tests then run about 20x slower than on one thread, and erratically so.
torch.set_num_threads(1)
