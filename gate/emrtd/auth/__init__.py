"""Document authenticity: passive, active and chip authentication and their verdict."""
