"""Simulated gate controller: physical lane model, device protocol side, pty/TCP shell."""
