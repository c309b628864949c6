"""The rollback service, one module per job.

- `records`: request + decision → the typed audit record and the Slack notice; what the ledger says
- `journal`: the ports as the jobs use them (announce, record a decision wherever the head is)
- `lock`: the intent record, which is the per-prompt lock
- `move`: move production and read it back
- `oversight`: people in the loop (approval mode, no cascade) applied to an automatic decision
- `resume`: finish a request whose worker stopped between the move and the audit
- `failure`: the record of a request we give up on, or that lost the lock
- `service`: one request in, one audited decision out
- `attempts`: the one place that decides retry / final attempt / dead-letter queue

None of them imports a client library: the ports (ports.py) are all they see.
"""
