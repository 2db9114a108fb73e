"""Per-format text extraction; ``knowledge.extract`` picks the format and is the module to call."""
