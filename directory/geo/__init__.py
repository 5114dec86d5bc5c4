"""Geography: the offline gazetteer, geocoding and distance math."""
