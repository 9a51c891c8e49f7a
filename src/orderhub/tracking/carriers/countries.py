"""Countries as carriers write them (ISO 3166-1 alpha-2, alpha-3 or an English name), and the one
IANA time zone a country keeps, for reading a carrier's local time that carries no UTC offset.

The table (data, not logic) is derived from two public sources: the ISO 3166-1 codes and English
names as packaged by Debian's iso-codes, and the IANA time zone database's ``zone.tab`` (public
domain). A country with one zone in ``zone.tab`` has that zone. A country listed with several
zones that keep the same offset for nearly everyone (Germany with Büsingen, China with Urumqi,
Spain with the Canaries …) has its capital city's zone. A country whose zones differ for many
people (the United States, Canada, Australia, Brazil, Mexico, Russia, Indonesia …) has ``-``: its
zone comes from the state (``places.py``) or the city, or is not known.
"""

from __future__ import annotations

# alpha-2, alpha-3, zone (or "-"), English name
_TABLE = """
AD AND Europe/Andorra Andorra
AE ARE Asia/Dubai United Arab Emirates
AF AFG Asia/Kabul Afghanistan
AG ATG America/Antigua Antigua and Barbuda
AI AIA America/Anguilla Anguilla
AL ALB Europe/Tirane Albania
AM ARM Asia/Yerevan Armenia
AO AGO Africa/Luanda Angola
AQ ATA - Antarctica
AR ARG America/Argentina/Buenos_Aires Argentina
AS ASM Pacific/Pago_Pago American Samoa
AT AUT Europe/Vienna Austria
AU AUS - Australia
AW ABW America/Aruba Aruba
AX ALA Europe/Mariehamn Åland Islands
AZ AZE Asia/Baku Azerbaijan
BA BIH Europe/Sarajevo Bosnia and Herzegovina
BB BRB America/Barbados Barbados
BD BGD Asia/Dhaka Bangladesh
BE BEL Europe/Brussels Belgium
BF BFA Africa/Ouagadougou Burkina Faso
BG BGR Europe/Sofia Bulgaria
BH BHR Asia/Bahrain Bahrain
BI BDI Africa/Bujumbura Burundi
BJ BEN Africa/Porto-Novo Benin
BL BLM America/St_Barthelemy Saint Barthélemy
BM BMU Atlantic/Bermuda Bermuda
BN BRN Asia/Brunei Brunei Darussalam
BO BOL America/La_Paz Bolivia
BQ BES America/Kralendijk Bonaire, Sint Eustatius and Saba
BR BRA - Brazil
BS BHS America/Nassau Bahamas
BT BTN Asia/Thimphu Bhutan
BV BVT Europe/Oslo Bouvet Island
BW BWA Africa/Gaborone Botswana
BY BLR Europe/Minsk Belarus
BZ BLZ America/Belize Belize
CA CAN - Canada
CC CCK Indian/Cocos Cocos (Keeling) Islands
CD COD Africa/Kinshasa Congo, The Democratic Republic of the
CF CAF Africa/Bangui Central African Republic
CG COG Africa/Brazzaville Congo
CH CHE Europe/Zurich Switzerland
CI CIV Africa/Abidjan Côte d'Ivoire
CK COK Pacific/Rarotonga Cook Islands
CL CHL America/Santiago Chile
CM CMR Africa/Douala Cameroon
CN CHN Asia/Shanghai China
CO COL America/Bogota Colombia
CR CRI America/Costa_Rica Costa Rica
CU CUB America/Havana Cuba
CV CPV Atlantic/Cape_Verde Cabo Verde
CW CUW America/Curacao Curaçao
CX CXR Indian/Christmas Christmas Island
CY CYP Asia/Nicosia Cyprus
CZ CZE Europe/Prague Czechia
DE DEU Europe/Berlin Germany
DJ DJI Africa/Djibouti Djibouti
DK DNK Europe/Copenhagen Denmark
DM DMA America/Dominica Dominica
DO DOM America/Santo_Domingo Dominican Republic
DZ DZA Africa/Algiers Algeria
EC ECU America/Guayaquil Ecuador
EE EST Europe/Tallinn Estonia
EG EGY Africa/Cairo Egypt
EH ESH Africa/El_Aaiun Western Sahara
ER ERI Africa/Asmara Eritrea
ES ESP Europe/Madrid Spain
ET ETH Africa/Addis_Ababa Ethiopia
FI FIN Europe/Helsinki Finland
FJ FJI Pacific/Fiji Fiji
FK FLK Atlantic/Stanley Falkland Islands (Malvinas)
FM FSM - Micronesia, Federated States of
FO FRO Atlantic/Faroe Faroe Islands
FR FRA Europe/Paris France
GA GAB Africa/Libreville Gabon
GB GBR Europe/London United Kingdom
GD GRD America/Grenada Grenada
GE GEO Asia/Tbilisi Georgia
GF GUF America/Cayenne French Guiana
GG GGY Europe/Guernsey Guernsey
GH GHA Africa/Accra Ghana
GI GIB Europe/Gibraltar Gibraltar
GL GRL America/Nuuk Greenland
GM GMB Africa/Banjul Gambia
GN GIN Africa/Conakry Guinea
GP GLP America/Guadeloupe Guadeloupe
GQ GNQ Africa/Malabo Equatorial Guinea
GR GRC Europe/Athens Greece
GS SGS Atlantic/South_Georgia South Georgia and the South Sandwich Islands
GT GTM America/Guatemala Guatemala
GU GUM Pacific/Guam Guam
GW GNB Africa/Bissau Guinea-Bissau
GY GUY America/Guyana Guyana
HK HKG Asia/Hong_Kong Hong Kong
HM HMD - Heard Island and McDonald Islands
HN HND America/Tegucigalpa Honduras
HR HRV Europe/Zagreb Croatia
HT HTI America/Port-au-Prince Haiti
HU HUN Europe/Budapest Hungary
ID IDN - Indonesia
IE IRL Europe/Dublin Ireland
IL ISR Asia/Jerusalem Israel
IM IMN Europe/Isle_of_Man Isle of Man
IN IND Asia/Kolkata India
IO IOT Indian/Chagos British Indian Ocean Territory
IQ IRQ Asia/Baghdad Iraq
IR IRN Asia/Tehran Iran
IS ISL Atlantic/Reykjavik Iceland
IT ITA Europe/Rome Italy
JE JEY Europe/Jersey Jersey
JM JAM America/Jamaica Jamaica
JO JOR Asia/Amman Jordan
JP JPN Asia/Tokyo Japan
KE KEN Africa/Nairobi Kenya
KG KGZ Asia/Bishkek Kyrgyzstan
KH KHM Asia/Phnom_Penh Cambodia
KI KIR - Kiribati
KM COM Indian/Comoro Comoros
KN KNA America/St_Kitts Saint Kitts and Nevis
KP PRK Asia/Pyongyang North Korea
KR KOR Asia/Seoul South Korea
KW KWT Asia/Kuwait Kuwait
KY CYM America/Cayman Cayman Islands
KZ KAZ Asia/Almaty Kazakhstan
LA LAO Asia/Vientiane Laos
LB LBN Asia/Beirut Lebanon
LC LCA America/St_Lucia Saint Lucia
LI LIE Europe/Vaduz Liechtenstein
LK LKA Asia/Colombo Sri Lanka
LR LBR Africa/Monrovia Liberia
LS LSO Africa/Maseru Lesotho
LT LTU Europe/Vilnius Lithuania
LU LUX Europe/Luxembourg Luxembourg
LV LVA Europe/Riga Latvia
LY LBY Africa/Tripoli Libya
MA MAR Africa/Casablanca Morocco
MC MCO Europe/Monaco Monaco
MD MDA Europe/Chisinau Moldova
ME MNE Europe/Podgorica Montenegro
MF MAF America/Marigot Saint Martin (French part)
MG MDG Indian/Antananarivo Madagascar
MH MHL Pacific/Majuro Marshall Islands
MK MKD Europe/Skopje North Macedonia
ML MLI Africa/Bamako Mali
MM MMR Asia/Yangon Myanmar
MN MNG Asia/Ulaanbaatar Mongolia
MO MAC Asia/Macau Macao
MP MNP Pacific/Saipan Northern Mariana Islands
MQ MTQ America/Martinique Martinique
MR MRT Africa/Nouakchott Mauritania
MS MSR America/Montserrat Montserrat
MT MLT Europe/Malta Malta
MU MUS Indian/Mauritius Mauritius
MV MDV Indian/Maldives Maldives
MW MWI Africa/Blantyre Malawi
MX MEX - Mexico
MY MYS Asia/Kuala_Lumpur Malaysia
MZ MOZ Africa/Maputo Mozambique
NA NAM Africa/Windhoek Namibia
NC NCL Pacific/Noumea New Caledonia
NE NER Africa/Niamey Niger
NF NFK Pacific/Norfolk Norfolk Island
NG NGA Africa/Lagos Nigeria
NI NIC America/Managua Nicaragua
NL NLD Europe/Amsterdam Netherlands
NO NOR Europe/Oslo Norway
NP NPL Asia/Kathmandu Nepal
NR NRU Pacific/Nauru Nauru
NU NIU Pacific/Niue Niue
NZ NZL Pacific/Auckland New Zealand
OM OMN Asia/Muscat Oman
PA PAN America/Panama Panama
PE PER America/Lima Peru
PF PYF - French Polynesia
PG PNG Pacific/Port_Moresby Papua New Guinea
PH PHL Asia/Manila Philippines
PK PAK Asia/Karachi Pakistan
PL POL Europe/Warsaw Poland
PM SPM America/Miquelon Saint Pierre and Miquelon
PN PCN Pacific/Pitcairn Pitcairn
PR PRI America/Puerto_Rico Puerto Rico
PS PSE Asia/Hebron Palestine, State of
PT PRT Europe/Lisbon Portugal
PW PLW Pacific/Palau Palau
PY PRY America/Asuncion Paraguay
QA QAT Asia/Qatar Qatar
RE REU Indian/Reunion Réunion
RO ROU Europe/Bucharest Romania
RS SRB Europe/Belgrade Serbia
RU RUS - Russian Federation
RW RWA Africa/Kigali Rwanda
SA SAU Asia/Riyadh Saudi Arabia
SB SLB Pacific/Guadalcanal Solomon Islands
SC SYC Indian/Mahe Seychelles
SD SDN Africa/Khartoum Sudan
SE SWE Europe/Stockholm Sweden
SG SGP Asia/Singapore Singapore
SH SHN Atlantic/St_Helena Saint Helena, Ascension and Tristan da Cunha
SI SVN Europe/Ljubljana Slovenia
SJ SJM Arctic/Longyearbyen Svalbard and Jan Mayen
SK SVK Europe/Bratislava Slovakia
SL SLE Africa/Freetown Sierra Leone
SM SMR Europe/San_Marino San Marino
SN SEN Africa/Dakar Senegal
SO SOM Africa/Mogadishu Somalia
SR SUR America/Paramaribo Suriname
SS SSD Africa/Juba South Sudan
ST STP Africa/Sao_Tome Sao Tome and Principe
SV SLV America/El_Salvador El Salvador
SX SXM America/Lower_Princes Sint Maarten (Dutch part)
SY SYR Asia/Damascus Syria
SZ SWZ Africa/Mbabane Eswatini
TC TCA America/Grand_Turk Turks and Caicos Islands
TD TCD Africa/Ndjamena Chad
TF ATF Indian/Kerguelen French Southern Territories
TG TGO Africa/Lome Togo
TH THA Asia/Bangkok Thailand
TJ TJK Asia/Dushanbe Tajikistan
TK TKL Pacific/Fakaofo Tokelau
TL TLS Asia/Dili Timor-Leste
TM TKM Asia/Ashgabat Turkmenistan
TN TUN Africa/Tunis Tunisia
TO TON Pacific/Tongatapu Tonga
TR TUR Europe/Istanbul Türkiye
TT TTO America/Port_of_Spain Trinidad and Tobago
TV TUV Pacific/Funafuti Tuvalu
TW TWN Asia/Taipei Taiwan
TZ TZA Africa/Dar_es_Salaam Tanzania
UA UKR Europe/Kyiv Ukraine
UG UGA Africa/Kampala Uganda
UM UMI - United States Minor Outlying Islands
US USA - United States
UY URY America/Montevideo Uruguay
UZ UZB Asia/Tashkent Uzbekistan
VA VAT Europe/Vatican Holy See (Vatican City State)
VC VCT America/St_Vincent Saint Vincent and the Grenadines
VE VEN America/Caracas Venezuela
VG VGB America/Tortola Virgin Islands, British
VI VIR America/St_Thomas Virgin Islands, U.S.
VN VNM Asia/Ho_Chi_Minh Vietnam
VU VUT Pacific/Efate Vanuatu
WF WLF Pacific/Wallis Wallis and Futuna
WS WSM Pacific/Apia Samoa
YE YEM Asia/Aden Yemen
YT MYT Indian/Mayotte Mayotte
ZA ZAF Africa/Johannesburg South Africa
ZM ZMB Africa/Lusaka Zambia
ZW ZWE Africa/Harare Zimbabwe
"""

#: Other spellings carriers use for a country.
_ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "usa": "US",
    "united states of america": "US",
    "u.s.a.": "US",
    "deutschland": "DE",
    "holland": "NL",
    "the netherlands": "NL",
    "south korea": "KR",
    "korea": "KR",
    "russia": "RU",
    "hong kong sar": "HK",
    "mainland china": "CN",
}


def _read_table() -> tuple[dict[str, str], dict[str, tuple[str, str, str]]]:
    codes: dict[str, str] = {}
    rows: dict[str, tuple[str, str, str]] = {}
    for row in _TABLE.strip().splitlines():
        alpha2, alpha3, zone, name = row.split(" ", 3)
        codes[alpha2.casefold()] = alpha2
        codes[alpha3.casefold()] = alpha2
        codes[name.casefold()] = alpha2
        rows[alpha2] = (alpha3, "" if zone == "-" else zone, name)
    codes.update(_ALIASES)
    return codes, rows


_CODES, _ROWS = _read_table()


def alpha2(value: str) -> str:
    """The ISO 3166-1 alpha-2 code for ``DE``, ``DEU``, ``Germany`` or ``de``; ``""`` when unknown."""
    return _CODES.get(value.strip().casefold(), "")


def country_zone(code: str) -> str:
    """The IANA zone a country keeps (alpha-2 code), ``""`` when it spans several or is unknown."""
    return _ROWS.get(code, ("", "", ""))[1]


def alpha3(code: str) -> str:
    """The alpha-3 code of an alpha-2 code (``DE`` → ``DEU``), ``""`` when unknown."""
    return _ROWS.get(code, ("", "", ""))[0]


def country_name(code: str) -> str:
    """The English name of an alpha-2 code (``DE`` → ``Germany``), ``""`` when unknown."""
    return _ROWS.get(code, ("", "", ""))[2]
