"""How every command starts: process set-up before JAX starts, then absl's app.run."""

import importlib


def run(command: str) -> None:
  """Runs aesthetic_jax.cli.<command>'s `main` under absl (flags parsed, exit status used).

  First, before the command's modules import JAX: the XLA:CPU convolution setting
  (xla_cpu.configure). (Training's shim, aesthetic_jax/main.py, has already installed the
  handler that keeps a SIGTERM received during start-up.)
  """
  from aesthetic_jax import xla_cpu  # pylint: disable=g-import-not-at-top
  xla_cpu.configure()
  module = importlib.import_module(f'aesthetic_jax.cli.{command}')
  _help_shows(module)
  from absl import app  # pylint: disable=g-import-not-at-top
  app.run(module.main, flags_parser=parse_flags)


def _help_shows(module) -> None:
  """--help prints the command module's docstring and its flags (absl shows those of the
  module named by sys.argv[0], here the `python -m` shim)."""
  import sys  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  from aesthetic_jax.cli import flags as cli_flags  # pylint: disable=g-import-not-at-top
  sys.modules['__main__'].__doc__ = module.__doc__
  shown = flags.FLAGS.get_flags_for_module(module.__name__)
  shown += [flags.FLAGS[name] for name in cli_flags.USED_BY[module.__name__]]
  for flag in shown:
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)


def parse_flags(argv):
  """absl's parsing, with a config key that does not exist (--config.optimizer.learnig_rate)
  refused in one line that names it, instead of a traceback."""
  import re  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  try:
    return flags.FLAGS(argv)
  except flags.Error as error:
    print(f'error: {error}\nPass --helpfull to see the flags.', file=sys.stderr)
  except (KeyError, AttributeError) as error:  # ml_collections' config overrides
    text = str(error).replace('\\n', '\n').replace("\\'", "'")
    key = re.search(r"'([^']+)'", text)
    given = [a for a in argv if a.startswith('--config.') and key and key.group(1) in a]
    hint = re.search(r'Did you mean "([^"]+)"', text)
    print(f'error: {given[0] if given else "a --config.KEY override"}: the config has no key '
          f'{key.group(1) if key else text!r}' + (f'; did you mean {hint.group(1)!r}?' if hint
                                                  else ''), file=sys.stderr)
  sys.exit(2)


def call(main, argv) -> int:
  """Runs a command's `main` in this process with `argv` (flags and arguments, without the
  program name), as the command line would: for tests and notebooks. Flags are reset to
  their defaults first."""
  import sys  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  argv = ['aesthetic_jax'] + [str(a) for a in argv]
  flags.FLAGS.unparse_flags()
  saved, sys.argv = sys.argv, argv  # config_flags reads its --config.KEY overrides there
  try:
    rest = flags.FLAGS(argv)
  finally:
    sys.argv = saved
  return main(rest)
