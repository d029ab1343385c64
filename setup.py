"""aesthetic_jax: deep image aesthetic quality assessment with semantic information in JAX."""

import pathlib

import setuptools

_HERE = pathlib.Path(__file__).parent


def _requirements(name):
  lines = (_HERE / name).read_text().splitlines()
  return [l.strip() for l in lines if l.strip() and not l.startswith(('#', '-r'))]


setuptools.setup(
    name='aesthetic_jax',
    version='0.1.0',
    description=('Kao, He and Huang (IEEE TIP 2017), "Deep Aesthetic Quality Assessment with '
                 'Semantic Information", in JAX/Flax.'),
    long_description=(_HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    # configs/ is a package of its own (`from configs import default` in every config file),
    # installed beside aesthetic_jax so that the experiment runner finds the paper's tables.
    packages=setuptools.find_packages(include=['aesthetic_jax*', 'data_builders*', 'configs']),
    package_data={'data_builders': ['*/README.md', '*/CITATIONS.bib']},
    python_requires='>=3.11',
    install_requires=_requirements('requirements.txt'),
    extras_require={'test': _requirements('requirements-test.txt')},
)
