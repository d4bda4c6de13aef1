"""Logical Data Structure (ICAO 9303-10): data groups, EF.COM, SecurityInfos (CardAccess, DG14)."""
