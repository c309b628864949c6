"""What the HTTP functions share: error answers, the request body, and answering a repeat once."""
