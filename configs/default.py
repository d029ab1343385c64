"""Defaults shared by every experiment: MTCNN #1 on AVA (paper split), lambda = 1/M.

Run:
  python -m aesthetic_jax.main --config=configs/default.py --workdir=/tmp/mtcnn1
  python -m aesthetic_jax.main --config=configs/default.py:demo --workdir=/tmp/demo

`:demo` switches to the embedded synthetic dataset and small sizes (minutes on a laptop CPU).
Every value can be overridden on the command line (`--config.batch_size=128`); a key that does
not exist is refused with its name. Sources of the numbers: method.md (the paper, Kao, He and
Huang, IEEE TIP 2017, and RAPID, Lu et al., ACM MM 2014 for the layer sizes).
"""

import ml_collections

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # RGB, 0..255 scale
IMAGENET_STD = (58.395, 57.12, 57.375)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0  # decides initialisation, data order, crops, flips and dropout

  config.data = ml_collections.ConfigDict()
  config.data.name = 'ava/paper'  # 'synthetic', 'ava/paper', 'ava/official', 'photonet'
  config.data.data_dir = '~/tensorflow_datasets'
  config.data.train_split = 'train'
  config.data.test_split = 'test'
  config.data.delta = 0.0  # margin of the training labels (method.md section 1); test uses 0
  config.data.train_tag = ''  # 'respective CNN': train and test only on images of this tag
  config.data.validation_size = 0  # fixed-seed random training images held out (early stop)

  config.input = ml_collections.ConfigDict()
  config.input.resize_size = 256  # warp to this square size
  config.input.crop_size = 227  # random crop (train) / centre crop (eval)
  config.input.num_threads = 2  # grain reader threads (PIL decodes without the GIL)
  config.input.prefetch_batches = 4
  config.input.worker_count = 0  # >0: grain worker processes instead

  config.model = ml_collections.ConfigDict()
  config.model.architecture = 'mtcnn1'  # stcnn, mtcnn1, mtcnn2, mtcnn3, enhanced
  config.model.body = 'rapid'  # the paper's conv1-fc6
  config.model.conv_features = (64, 64, 64, 64)
  config.model.conv_kernels = (11, 5, 3, 3)
  config.model.conv_strides = (2, 1, 1, 1)
  config.model.fc_features = (1000, 256)
  # Hidden fc layers of the aesthetic path that leaves after conv2: MTCNN #3's aesthetic
  # branch and Enhanced MTCNN's auxiliary branch. The paper counts the output layer as an fc
  # layer, so its "two fully-connected layers" there are ONE hidden layer and the head
  # (method.md section 4). Their width is not given: 0 means fc6's (the last fc_features).
  config.model.conv2_branch_fc_layers = 1
  config.model.conv2_branch_fc_width = 0
  config.model.dropout_rate = 0.5
  config.model.pixel_mean = IMAGENET_MEAN
  config.model.pixel_std = IMAGENET_STD
  config.model.dtype = 'float32'  # compute dtype of the body; heads stay float32
  # RAPID body's pooling and LRN: 'xla' (plain reduce-window ops), 'cpu' (written for XLA:CPU,
  # model/cpu_pool_lrn.py), 'auto' ('cpu' on a CPU backend, 'xla' on GPU/TPU). Same values.
  config.model.pool_lrn_impl = 'auto'
  # ImageNet backbones (body alexnet, vgg16, resnet18 or resnet50): model/backbones.py
  config.model.width_divisor = 1  # every channel width / this (narrow test and demo bodies)
  config.model.stage_sizes = ()  # ResNet blocks per stage; () = the standard depth
  config.model.batch_norm_axis = 'data'  # batch stats over this mapped axis; '' = per device
  # Initial weights: a folder written by `python -m aesthetic_jax.weights import` (the body),
  # or a workdir trained on AVA (every matching array; e.g. Photo.net transfer, Table V).
  config.model.init_from = ''
  # Beyond the paper: a third head predicting the distribution of votes over the score bins
  # (score_min..score_max), trained with the squared EMD (NIMA, Talebi and Milanfar 2018);
  # the predicted mean score is its expectation. Its columns join MTRL's W after the tags.
  config.model.distribution_head = False

  config.loss = ml_collections.ConfigDict()
  config.loss.semantic_weight = 1.0  # lambda; with unit 'per_tag' lambda = 1.0 / M
  config.loss.semantic_weight_unit = 'per_tag'  # or 'absolute'
  config.loss.aux_weight = 1.0  # Enhanced MTCNN's auxiliary aesthetic softmax
  # Weight of the squared-EMD term of the score-distribution head (model.distribution_head).
  config.loss.distribution_weight = 1.0
  config.loss.semantic_early_stop = False
  config.loss.semantic_patience_epochs = 1

  config.mtrl = ml_collections.ConfigDict()
  config.mtrl.enabled = False
  # Eq. 11 sums the data terms over N images; our losses are means, so the trace penalty is
  # scaled by this weight (about 1/N would be eq. 11 verbatim).
  config.mtrl.penalty_weight = 1e-4
  config.mtrl.omega_update_epochs = 1
  config.mtrl.eps = 1e-6

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.learning_rate = 0.01  # for the global batch below
  config.optimizer.momentum = 0.9
  config.optimizer.nesterov = False
  config.optimizer.weight_decay = 5e-4
  config.optimizer.schedule = 'step'  # constant, cosine, step
  config.optimizer.step_epochs = (10, 14)  # x0.1 at these epochs with 'step'
  config.optimizer.warmup_epochs = 0.0
  config.optimizer.body_lr_multiplier = 1.0  # learning rate of the body / that of the heads

  config.batch_size = 64  # global, over all devices and hosts
  config.eval_batch_size = 128
  config.num_epochs = 16
  config.log_every_steps = 50
  config.checkpoint = ml_collections.ConfigDict()
  config.checkpoint.max_to_keep = 3
  config.checkpoint.every_steps = 0  # also checkpoint mid-epoch every this many steps (0: no)
  config.checkpoint.preemption_sync_steps = 10  # multi-host: agree on SIGTERM this often

  if arg == 'demo':
    apply_demo(config)
  elif arg:
    raise ValueError(f'Unknown config variant {arg!r}; the only variant is :demo.')
  return config


def apply_demo(config: ml_collections.ConfigDict) -> None:
  """Synthetic data and small sizes: trains in about two minutes on 2 CPU cores."""
  config.data.name = 'synthetic'
  config.input.resize_size = 72
  config.input.crop_size = 64
  config.model.conv_features = (32, 32, 32, 32)
  config.model.fc_features = (256, 128)
  config.model.dropout_rate = 0.3
  config.optimizer.learning_rate = 0.02
  config.optimizer.schedule = 'cosine'
  config.optimizer.warmup_epochs = 0.5
  config.batch_size = 32
  config.eval_batch_size = 128
  config.num_epochs = 6
  config.log_every_steps = 20
