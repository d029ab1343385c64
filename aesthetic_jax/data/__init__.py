"""Data: the dataset registry (registry: names, building, opening), the grain input pipeline
(pipeline), image preprocessing (preprocessing) and the build/report commands' logic (build).
Light at import: the builders' spawned image workers import from here."""
