"""Beyond one check: resumable batches, the Ray engine, the archive."""
