"""Everything that runs in Lambda: configuration, domain services and AWS adapters."""
