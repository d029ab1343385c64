"""The training state (one pytree that orbax saves whole) and the optimizer."""

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from aesthetic_jax import model as model_lib
from aesthetic_jax.config_error import ConfigError
from aesthetic_jax.core import omega as omega_lib
from aesthetic_jax.init import transfer


class TrainState(flax.struct.PyTreeNode):
  """Everything that decides the future of a run, so that a resume is exact.

  step: int32 (); params / model_state (e.g. batch_stats, else {}); opt_state;
  omega: (T, T) MTRL task covariance (T = C + M); rng: uint32 (2,) base key;
  semantic_gate: float32 (), 1.0 while the semantic task trains, 0.0 once early-stopped;
  best_semantic_loss / epochs_without_improvement: the early-stop bookkeeping.
  """
  step: jax.Array
  params: Any
  model_state: Any
  opt_state: Any
  omega: jax.Array
  rng: jax.Array
  semantic_gate: jax.Array
  best_semantic_loss: jax.Array
  epochs_without_improvement: jax.Array


def learning_rate_schedule(config, steps_per_epoch: int) -> optax.Schedule:
  """config.optimizer.schedule: 'constant', 'cosine' or 'step' (x0.1 at step_epochs), with warmup."""
  opt = config.optimizer
  total = max(1, config.num_epochs * steps_per_epoch)
  warmup = int(opt.warmup_epochs * steps_per_epoch)
  if opt.schedule == 'constant':
    main = optax.constant_schedule(opt.learning_rate)
  elif opt.schedule == 'cosine':
    main = optax.cosine_decay_schedule(opt.learning_rate, max(1, total - warmup))
  elif opt.schedule == 'step':
    main = optax.piecewise_constant_schedule(
        opt.learning_rate, {int(e * steps_per_epoch) - warmup: 0.1 for e in opt.step_epochs})
  else:
    raise ConfigError(f"optimizer.schedule={opt.schedule!r}; use 'constant', 'cosine' or 'step'.")
  if not warmup:
    return main
  return optax.join_schedules(
      [optax.linear_schedule(0.0, opt.learning_rate, warmup), main], [warmup])


def _is_kernel(params):
  # Weight decay is the Gaussian prior on the weights (paper eq. 7); biases are left free.
  return jax.tree.map(lambda p: p.ndim > 1, params)


def param_groups(params):
  """'head' for the task heads ('<task>_head'), 'body' for everything they sit on."""
  return jax.tree_util.tree_map_with_path(
      lambda path, _: 'head' if any(str(getattr(k, 'key', k)).endswith('_head') for k in path)
      else 'body', params)


def make_optimizer(config, steps_per_epoch: int) -> optax.GradientTransformation:
  """SGD with momentum and decoupled-from-the-loss weight decay on kernels.

  With optimizer.body_lr_multiplier != 1 the body (e.g. an ImageNet-pretrained backbone)
  learns at that fraction of the heads' learning rate (optax.multi_transform).
  """
  opt = config.optimizer
  schedule = learning_rate_schedule(config, steps_per_epoch)

  def sgd(learning_rate):
    return optax.sgd(learning_rate, momentum=opt.momentum or None, nesterov=opt.nesterov)

  multiplier = opt.get('body_lr_multiplier', 1.0)
  if multiplier == 1.0:
    update = sgd(schedule)
  else:
    update = optax.multi_transform(
        {'head': sgd(schedule), 'body': sgd(lambda count: multiplier * schedule(count))},
        param_groups)
  return optax.chain(optax.add_decayed_weights(opt.weight_decay, mask=_is_kernel), update)


def create_train_state(config, model, tx, *, image_shape, rng) -> TrainState:
  """Initialises parameters from `rng` for images of `image_shape` (H, W, 3).

  Random weights only; `with_pretrained_weights` puts model.init_from's arrays in after.
  """
  init_rng, state_rng = jax.random.split(rng)
  variables = model.init(init_rng, jnp.zeros((1,) + tuple(image_shape), jnp.uint8), train=False)
  variables = dict(variables)
  params = variables.pop('params')
  num_tasks = model_lib.task_matrix(params).shape[1]
  return TrainState(
      step=jnp.zeros((), jnp.int32), params=params, model_state=variables,
      opt_state=tx.init(params), omega=omega_lib.initial_omega(num_tasks), rng=state_rng,
      semantic_gate=jnp.ones((), jnp.float32),
      best_semantic_loss=jnp.full((), jnp.inf, jnp.float32),
      epochs_without_improvement=jnp.zeros((), jnp.int32))


def with_pretrained_weights(state: TrainState, config) -> TrainState:
  """`state` with model.init_from's arrays in place of its random ones (a fresh run only).

  Runs on the host, outside jit: read inside a jitted initialiser, a VGG-16 body's 138M
  values became constants of the compiled program. A resumed run takes its weights from
  its own checkpoint instead, so init_from need not exist any more then. The optimizer
  state (zero momentum) does not depend on the values and is kept; every array keeps its
  sharding.
  """
  init_from = config.model.get('init_from', '')
  if not init_from:
    return state
  params, model_state = transfer.initialise(
      jax.device_get(state.params), jax.device_get(state.model_state), init_from=init_from,
      body=config.model.body, log=_log)

  def place(new, old):
    return jax.device_put(np.asarray(new, old.dtype), old.sharding)

  return state.replace(params=jax.tree.map(place, params, state.params),
                       model_state=jax.tree.map(place, model_state, state.model_state))


def _log(message: str) -> None:
  if jax.process_index() == 0:
    print(message, flush=True)
