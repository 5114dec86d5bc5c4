"""The coordinators' pages: the application queue, organizations, users (the audit log is in
directory/audit)."""
