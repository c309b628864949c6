"""Local mode: the real handlers on 127.0.0.1, with embedded stand-ins for the cloud around them."""
