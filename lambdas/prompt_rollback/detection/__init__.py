"""Detection from Langfuse data: the four rollback triggers and the rules generated from them."""
