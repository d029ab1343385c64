"""ConfigError: a config value a run cannot use.

Its message names the key and what to set instead; the commands print it in one line with
exit status 2, without a traceback. A ValueError, so callers that catch those still do.
"""


class ConfigError(ValueError):
  """A config value that cannot be used; the message names the key and the fix."""
