"""Trust anchors (CSCA, DSC, CRL, master lists) that passive authentication checks against."""
