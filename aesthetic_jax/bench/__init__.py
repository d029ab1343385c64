"""Speed and memory measurements (`python -m aesthetic_jax.bench`, aesthetic_jax/cli/bench.py).

  timing.py           medians and ranges of timed rounds; the machine's matmul peak
  torch_reference.py  the same networks, loss and optimizer in PyTorch (a standalone script
                      run by an interpreter that has torch; PyTorch is never a dependency)
  torch_process.py    talks to torch_reference.py in a subprocess, round by round
  runner.py           the bench: train step, full loop, input pipeline, evaluation, memory
"""
