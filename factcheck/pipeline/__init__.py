"""The flow, one module a stage: ingest → segment → claims → retrieve → (mismatch) → aggregate."""
