"""Network reports: aggregate figures only, with small-number suppression; never a client."""
