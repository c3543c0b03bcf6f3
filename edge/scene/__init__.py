"""Scene rules: what object tracks (or falling blobs) in a zone mean for the compound."""
