"""prompt-rollback: automatic, audited rollback of LLM prompt versions."""
