"""The traveller screen: a page served by the lane that follows the transaction live.

:mod:`gate.display.screen` holds what is shown (translated through the gettext-style catalogues
of :mod:`gate.display.catalogue`), :mod:`gate.display.web` serves the page and its live updates.
"""
