"""Open Referral HSDS 3.0: export of the listings and import of other directories' data."""
