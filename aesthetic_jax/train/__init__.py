"""Training: the loop (loop.train_and_evaluate), the TrainState and optimizer (state), the
per-device steps and their data-parallel wrappings (steps), evaluation, semantic early
stopping, preemption, progress lines and TensorBoard files."""
