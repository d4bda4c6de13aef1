"""CMS SignedData (RFC 5652) as used by EF.SOD and master lists: one parser."""
