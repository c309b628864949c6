"""The ledger stream's consumer: anchors each new chain head, and reports any rewrite of the ledger."""
