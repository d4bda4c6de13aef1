"""Codes accepted in the issuing-state and nationality fields of an MRZ.

Facts from ISO 3166-1 (alpha-3 codes) and ICAO Doc 9303 Part 3 section 5 (codes reserved for
MRTDs: Germany's single-letter ``D``, British nationality categories, United Nations
documents, stateless persons and refugees, the European Union, organisations' laissez-passers).
``UTO`` (Utopia) is the fictional state of every ICAO specimen; it is accepted and reported as a
specimen so that test documents parse, and a lane can refuse it by policy.
"""

from __future__ import annotations

# ISO 3166-1: each alpha-3 code (MRZ) followed by its alpha-2 code (certificates' countryName).
_ISO3166_PAIRS = """
ABW AW AFG AF AGO AO AIA AI ALA AX ALB AL AND AD ARE AE ARG AR ARM AM ASM AS ATA AQ ATF TF
ATG AG AUS AU AUT AT AZE AZ BDI BI BEL BE BEN BJ BES BQ BFA BF BGD BD BGR BG BHR BH BHS BS
BIH BA BLM BL BLR BY BLZ BZ BMU BM BOL BO BRA BR BRB BB BRN BN BTN BT BVT BV BWA BW CAF CF
CAN CA CCK CC CHE CH CHL CL CHN CN CIV CI CMR CM COD CD COG CG COK CK COL CO COM KM CPV CV
CRI CR CUB CU CUW CW CXR CX CYM KY CYP CY CZE CZ DEU DE DJI DJ DMA DM DNK DK DOM DO DZA DZ
ECU EC EGY EG ERI ER ESH EH ESP ES EST EE ETH ET FIN FI FJI FJ FLK FK FRA FR FRO FO FSM FM
GAB GA GBR GB GEO GE GGY GG GHA GH GIB GI GIN GN GLP GP GMB GM GNB GW GNQ GQ GRC GR GRD GD
GRL GL GTM GT GUF GF GUM GU GUY GY HKG HK HMD HM HND HN HRV HR HTI HT HUN HU IDN ID IMN IM
IND IN IOT IO IRL IE IRN IR IRQ IQ ISL IS ISR IL ITA IT JAM JM JEY JE JOR JO JPN JP KAZ KZ
KEN KE KGZ KG KHM KH KIR KI KNA KN KOR KR KWT KW LAO LA LBN LB LBR LR LBY LY LCA LC LIE LI
LKA LK LSO LS LTU LT LUX LU LVA LV MAC MO MAF MF MAR MA MCO MC MDA MD MDG MG MDV MV MEX MX
MHL MH MKD MK MLI ML MLT MT MMR MM MNE ME MNG MN MNP MP MOZ MZ MRT MR MSR MS MTQ MQ MUS MU
MWI MW MYS MY MYT YT NAM NA NCL NC NER NE NFK NF NGA NG NIC NI NIU NU NLD NL NOR NO NPL NP
NRU NR NZL NZ OMN OM PAK PK PAN PA PCN PN PER PE PHL PH PLW PW PNG PG POL PL PRI PR PRK KP
PRT PT PRY PY PSE PS PYF PF QAT QA REU RE ROU RO RUS RU RWA RW SAU SA SDN SD SEN SN SGP SG
SGS GS SHN SH SJM SJ SLB SB SLE SL SLV SV SMR SM SOM SO SPM PM SRB RS SSD SS STP ST SUR SR
SVK SK SVN SI SWE SE SWZ SZ SXM SX SYC SC SYR SY TCA TC TCD TD TGO TG THA TH TJK TJ TKL TK
TKM TM TLS TL TON TO TTO TT TUN TN TUR TR TUV TV TWN TW TZA TZ UGA UG UKR UA UMI UM URY UY
USA US UZB UZ VAT VA VCT VC VEN VE VGB VG VIR VI VNM VN VUT VU WLF WF WSM WS YEM YE ZAF ZA
ZMB ZM ZWE ZW
""".split()  # noqa: SIM905 (a readable table)
ISO3166_ALPHA3_TO_ALPHA2: dict[str, str] = dict(
    zip(_ISO3166_PAIRS[::2], _ISO3166_PAIRS[1::2], strict=True)
)

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

ISO3166_ALPHA3: frozenset[str] = frozenset(ISO3166_ALPHA3_TO_ALPHA2)
KNOWN_CODES: frozenset[str] = ISO3166_ALPHA3 | frozenset(ICAO_SPECIAL) | frozenset(SPECIMEN)

# The country in CSCA and Document Signer certificates (alpha-2) for an MRZ issuing state:
# ISO 3166-1 plus the ICAO 9303-3 codes of one state. ``RKS`` (Kosovo, in some MRZs) has the
# user-assigned XK; ``UTO`` (Utopia, the specimen state) has the unassigned ``UT`` that the
# test PKI in simulator/ uses. EUE and the organisations' codes have no single state.
ALPHA3_TO_ALPHA2: dict[str, str] = {
    **ISO3166_ALPHA3_TO_ALPHA2,
    **{code: "GB" for code in ("GBD", "GBN", "GBO", "GBP", "GBS")},
    "D": "DE",
    "RKS": "XK",
    "UTO": "UT",
}


def normalise_code(field: str) -> str:
    """The code as written in a three-character MRZ field, trailing fillers removed."""
    return field.rstrip("<")


def is_known(code: str) -> bool:
    """Whether ``code`` (fillers removed) may appear as issuing state or nationality."""
    return code in KNOWN_CODES


def alpha2(issuing_state: str) -> str | None:
    """The alpha-2 code for an MRZ issuing state (fillers stripped), or None if unknown."""
    return ALPHA3_TO_ALPHA2.get(issuing_state.replace("<", "").strip().upper())


def describe(code: str) -> str:
    """A short description of a known code ('ISO 3166-1' for ordinary country codes)."""
    if code in ICAO_SPECIAL:
        return ICAO_SPECIAL[code]
    if code in SPECIMEN:
        return SPECIMEN[code]
    if code in ISO3166_ALPHA3:
        return "ISO 3166-1 alpha-3"
    return "unknown"
