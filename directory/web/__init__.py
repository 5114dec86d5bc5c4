"""Pages that belong to no single domain: home, errors, security headers."""
