"""aesthetic_jax: Kao, He and Huang, "Deep Aesthetic Quality Assessment with Semantic
Information" (IEEE TIP 2017), in JAX/Flax."""
