"""The review app: `touchless review` serves one run's proposals, causes, touch index and reason tree in the
browser, and records decisions through `pipeline.taxonomy.decisions`, the same code and file as the command line."""
