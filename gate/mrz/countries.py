"""Codes accepted in the issuing-state and nationality fields of an MRZ.

Facts from ISO 3166-1 (alpha-3 codes) and ICAO Doc 9303 Part 3 section 5 (codes reserved for
MRTDs: Germany's single-letter ``D``, British nationality categories, United Nations
documents, stateless persons and refugees, the European Union, organisations' laissez-passers).
``UTO`` (Utopia) is the fictional state of every ICAO specimen; it is accepted and reported as a
specimen so that test documents parse, and a lane can refuse it by policy.
"""

from __future__ import annotations

_ISO3166_ALPHA3 = """
ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE BDI BEL BEN BES BFA BGD BGR
BHR BHS BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA CAF CAN CCK CHE CHL CHN CIV CMR COD COG
COK COL COM CPV CRI CUB CUW CXR CYM CYP CZE DEU DJI DMA DNK DOM DZA ECU EGY ERI ESH ESP EST ETH
FIN FJI FLK FRA FRO FSM GAB GBR GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY
HKG HMD HND HRV HTI HUN IDN IMN IND IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN KAZ KEN KGZ KHM
KIR KNA KOR KWT LAO LBN LBR LBY LCA LIE LKA LSO LTU LUX LVA MAC MAF MAR MCO MDA MDG MDV MEX MHL
MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR MTQ MUS MWI MYS MYT NAM NCL NER NFK NGA NIC NIU NLD NOR
NPL NRU NZL OMN PAK PAN PCN PER PHL PLW PNG POL PRI PRK PRT PRY PSE PYF QAT REU ROU RUS RWA SAU
SDN SEN SGP SGS SHN SJM SLB SLE SLV SMR SOM SPM SRB SSD STP SUR SVK SVN SWE SWZ SXM SYC SYR TCA
TCD TGO THA TJK TKL TKM TLS TON TTO TUN TUR TUV TWN TZA UGA UKR UMI URY USA UZB VAT VCT VEN VGB
VIR VNM VUT WLF WSM YEM ZAF ZMB ZWE
""".split()  # noqa: SIM905 (a readable table)

# ICAO Doc 9303 Part 3, section 5 (Parts B to D): codes that are not ISO 3166-1 country codes.
ICAO_SPECIAL: dict[str, str] = {
    "D": "Germany (ICAO single-letter code, written D<<)",
    "GBD": "British Overseas Territories Citizen",
    "GBN": "British National (Overseas)",
    "GBO": "British Overseas Citizen",
    "GBP": "British Protected Person",
    "GBS": "British Subject",
    "EUE": "European Union",
    "UNO": "United Nations Organization or one of its officials",
    "UNA": "specialized agency of the United Nations or one of its officials",
    "UNK": "resident of Kosovo to whom a document was issued by UNMIK",
    "XBA": "African Development Bank",
    "XIM": "African Export-Import Bank",
    "XCC": "Caribbean Community (CARICOM)",
    "XCE": "Council of Europe",
    "XCO": "Common Market for Eastern and Southern Africa (COMESA)",
    "XEC": "Economic Community of West African States (ECOWAS)",
    "XPO": "International Criminal Police Organization (INTERPOL)",
    "XES": "Organisation of Eastern Caribbean States",
    "XMP": "Parliamentary Assembly of the Mediterranean",
    "XDC": "Southern African Development Community",
    "XOM": "Sovereign Military Order of Malta",
    "XXA": "stateless person (1954 Convention)",
    "XXB": "refugee (1951 Convention)",
    "XXC": "refugee (other than the 1951 Convention)",
    "XXX": "unspecified nationality",
}

SPECIMEN: dict[str, str] = {"UTO": "Utopia (ICAO specimen state)"}

ISO3166_ALPHA3: frozenset[str] = frozenset(_ISO3166_ALPHA3)
KNOWN_CODES: frozenset[str] = ISO3166_ALPHA3 | frozenset(ICAO_SPECIAL) | frozenset(SPECIMEN)


def normalise_code(field: str) -> str:
    """The code as written in a three-character MRZ field, trailing fillers removed."""
    return field.rstrip("<")


def is_known(code: str) -> bool:
    """Whether ``code`` (fillers removed) may appear as issuing state or nationality."""
    return code in KNOWN_CODES


def describe(code: str) -> str:
    """A short description of a known code ('ISO 3166-1' for ordinary country codes)."""
    if code in ICAO_SPECIAL:
        return ICAO_SPECIAL[code]
    if code in SPECIMEN:
        return SPECIMEN[code]
    if code in ISO3166_ALPHA3:
        return "ISO 3166-1 alpha-3"
    return "unknown"
