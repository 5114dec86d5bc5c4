"""Organizations, their locations, services taxonomy and listing pages."""
