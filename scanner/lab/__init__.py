"""Real local TLS servers on loopback: the demo lab, and the servers the tests and benchmarks probe."""
