"""The service catalogue: what services exist per tenant, how they call and host each other, and alert matching."""
