"""The rollback service, one module per job (records, journal, lock, move, oversight, resume,
failure, service, attempts). None of them imports a client library: the ports (ports.py) are all
they see."""
