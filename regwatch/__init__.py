"""The glue of regwatch: configuration, step functions, the `regwatch` command, JSON-lines import.

Enters: nothing at import time. Leaves: the modules `config`, `steps`, `cli` and `importer`; the
owner's top-level packages (`crawlers`, `archive`, `nlp`, `digests`) hold the pipeline itself.
"""
