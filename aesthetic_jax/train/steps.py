"""Per-device train and eval steps, and their data-parallel wrappings (design.md).

The per-device functions average over the 'data' axis with lax.pmean, so the same function
runs under `jax.jit(jax.shard_map(...))` over a mesh of all devices (the default, multi-host)
and under `jax.pmap` (kept working and tested as the reference).
"""

import functools

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.sharding import PartitionSpec as P

from aesthetic_jax import model as model_lib
from aesthetic_jax.config_error import ConfigError
from aesthetic_jax.model import predictions as model_predictions
from aesthetic_jax.core import losses

AXIS = 'data'


def semantic_weight(loss_config, num_tags: int) -> float:
  """lambda of method.md section 2; 'per_tag' means semantic_weight / M (1 -> 1/M)."""
  if loss_config.semantic_weight_unit == 'per_tag':
    return loss_config.semantic_weight / max(num_tags, 1)
  if loss_config.semantic_weight_unit == 'absolute':
    return loss_config.semantic_weight
  raise ConfigError(f'loss.semantic_weight_unit={loss_config.semantic_weight_unit!r}; use '
                   "'per_tag' or 'absolute'.")


def objective(config, outputs, batch, params, state, *, num_tags: int):
  """The scalar training objective and its parts (paper eq. 7 and, with MTRL, eq. 11).

  Weight decay is not here: it is the optimizer's (train_state.make_optimizer).
  """
  lam = semantic_weight(config.loss, num_tags) * state.semantic_gate
  terms = losses.joint_objective(
      aesthetic_logits=outputs['aesthetic'], aesthetic_labels=batch['label'],
      semantic_logits=outputs.get('semantic'), semantic_labels=batch.get('tags'),
      semantic_weight=lam, example_mask=batch['mask'])
  total = terms['total']
  if 'aesthetic_aux' in outputs:  # Enhanced MTCNN's auxiliary softmax on conv2
    aux = losses.joint_objective(aesthetic_logits=outputs['aesthetic_aux'],
                                 aesthetic_labels=batch['label'], example_mask=batch['mask'])
    terms['aesthetic_aux'] = aux['aesthetic']
    total = total + config.loss.aux_weight * aux['aesthetic']
  if 'distribution' in outputs:  # the score-distribution head (NIMA's squared EMD)
    target = batch['vote_distribution']
    has_votes = batch['mask'] & (target.sum(-1) > 0)
    emd = losses.squared_emd(logits=outputs['distribution'], target_distribution=target)
    terms['distribution'] = (jnp.where(has_votes, emd, 0).sum()
                             / jnp.maximum(has_votes.sum(), 1))
    total = total + config.loss.distribution_weight * terms['distribution']
  if config.mtrl.enabled:
    terms['mtrl_penalty'] = losses.mtrl_penalty(
        task_matrix=model_lib.task_matrix(params), omega=state.omega, eps=config.mtrl.eps)
    total = total + config.mtrl.penalty_weight * terms['mtrl_penalty']
  terms['total'] = total
  return terms


def _masked_accuracy(logits, labels, mask):
  correct = (jnp.argmax(logits, -1) == labels) & mask
  return correct.sum() / jnp.maximum(mask.sum(), 1)


def train_step(state, batch, *, model, tx, config, num_tags: int, axis_name: str = AXIS):
  """One SGD step on this device's shard of the batch; gradients averaged over `axis_name`.

  batch: {'image': uint8 (b, H, W, 3), 'label': int32 (b,), 'mask': bool (b,),
          'tags': bool (b, M) if the dataset has tags}.
  Returns (new state, metrics dict of scalars averaged over devices).
  """
  # Dropout: one key per step, the same on every device; each example's mask is keyed by
  # its index in the global batch (layers.ExampleDropout), so the device count changes nothing.
  rng = jax.random.fold_in(state.rng, state.step)
  local = batch['image'].shape[0]
  example_ids = lax.axis_index(axis_name) * local + jnp.arange(local)
  mutable = list(state.model_state) or False

  def loss_fn(params):
    variables = {'params': params, **state.model_state}
    result = model.apply(variables, batch['image'], train=True, rngs={'dropout': rng},
                         mutable=mutable, example_ids=example_ids)
    outputs, new_model_state = result if mutable else (result, state.model_state)
    terms = objective(config, outputs, batch, params, state, num_tags=num_tags)
    terms['accuracy'] = _masked_accuracy(outputs['aesthetic'], batch['label'], batch['mask'])
    return terms['total'], (terms, new_model_state)

  grads, (terms, new_model_state) = jax.grad(loss_fn, has_aux=True)(state.params)
  grads, terms, new_model_state = _device_mean((grads, terms, new_model_state), axis_name)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  new_state = state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                            opt_state=opt_state, model_state=new_model_state)
  return new_state, terms


def _device_mean(tree, axis_name):
  """lax.pmean over the devices of `axis_name`; on one device, the tree itself (XLA:CPU
  would still copy every gradient through a one-device all-reduce, ~2 % of a step)."""
  if lax.axis_size(axis_name) == 1:
    return tree
  return lax.pmean(tree, axis_name)


def eval_step(state, batch, *, model, score_min: float = 1.0):
  """Per-example predictions on this device's shard (no cross-device communication).

  Returns model.predictions.predictions(...) ('p_high' (b,), and per head 'semantic_probs' (b, M),
  'score_distribution' (b, K), 'predicted_mean_score' (b,)) plus the per-example losses
  'aesthetic_loss' (b,), 'semantic_loss' (b,) (with 'tags' in the batch) and
  'distribution_loss' (b,) (squared EMD, with 'vote_distribution' in the batch).
  """
  variables = {'params': state.params, **state.model_state}
  outputs = model.apply(variables, batch['image'], train=False)
  result = model_predictions.predictions(outputs, score_min=score_min)
  result['aesthetic_loss'] = losses.softmax_cross_entropy(logits=outputs['aesthetic'],
                                                          labels=batch['label'])
  if 'semantic' not in outputs or 'tags' not in batch:
    result.pop('semantic_probs', None)
  else:
    result['semantic_loss'] = losses.sigmoid_cross_entropy(
        logits=outputs['semantic'], labels=batch['tags']).sum(-1)
  if 'distribution' in outputs and 'vote_distribution' in batch:
    result['distribution_loss'] = losses.squared_emd(
        logits=outputs['distribution'], target_distribution=batch['vote_distribution'])
  return result


def make_mesh() -> jax.sharding.Mesh:
  """A 1-D ('data',) mesh over all devices of all processes."""
  return jax.make_mesh((jax.device_count(),), (AXIS,))


def shard_map_train_step(step_fn, mesh):
  """jit(shard_map(step_fn)): replicated state in and out, batch split over 'data'.

  The incoming state is donated (its buffers are reused for the new state). check_vma is off:
  with it on, jax.grad of replicated params inside shard_map already sums the gradient over
  devices, and the explicit lax.pmean (needed under pmap) would then give N times the mean.
  """
  mapped = jax.shard_map(step_fn, mesh=mesh, in_specs=(P(), P(AXIS)), out_specs=(P(), P()),
                         check_vma=False)
  return jax.jit(mapped, donate_argnums=0)


def shard_map_eval_step(step_fn, mesh):
  mapped = jax.shard_map(step_fn, mesh=mesh, in_specs=(P(), P(AXIS)), out_specs=P(AXIS),
                         check_vma=False)
  return jax.jit(mapped)


def pmap_train_step(step_fn):
  """The same per-device step under jax.pmap (state replicated on a leading device axis)."""
  return jax.pmap(step_fn, axis_name=AXIS, donate_argnums=0)


def bind_train_step(model, tx, config, num_tags):
  return functools.partial(train_step, model=model, tx=tx, config=config, num_tags=num_tags)


def bind_eval_step(model, *, score_min: float = 1.0):
  return functools.partial(eval_step, model=model, score_min=score_min)
