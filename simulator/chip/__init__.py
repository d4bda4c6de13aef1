"""Virtual eMRTD chip: chip images, the card-side protocol engine, and its transports."""
