"""Kota Probolinggo, East Java: the first city to run Siaga.

Administrative names are public (5 kecamatan, 29 kelurahan). Every coordinate here is an
APPROXIMATE centre estimated for the demo, not a surveyed point; the console labels them
so. Crew phone numbers are fictitious and must never be used for real traffic.
"""

from __future__ import annotations

from typing import Final

CITY_CENTRE: Final = (-7.7543, 113.2159)

# kecamatan code -> (name, [(kelurahan name, lat, lon), ...])
KECAMATAN: Final[dict[str, tuple[str, list[tuple[str, float, float]]]]] = {
    "kademangan": ("Kademangan", [
        ("Kademangan", -7.7643, 113.1937),
        ("Ketapang", -7.7525, 113.1879),
        ("Pilang", -7.7471, 113.1781),
        ("Pohsangit Kidul", -7.7729, 113.1981),
        ("Triwung Kidul", -7.7712, 113.2098),
        ("Triwung Lor", -7.7600, 113.2035),
    ]),
    "kanigaran": ("Kanigaran", [
        ("Curahgrinting", -7.7656, 113.2365),
        ("Kanigaran", -7.7577, 113.2231),
        ("Tisnonegaran", -7.7509, 113.2190),
        ("Kebonsari Kulon", -7.7685, 113.2189),
        ("Kebonsari Wetan", -7.7653, 113.2285),
        ("Sukoharjo", -7.7476, 113.2287),
    ]),
    "kedopok": ("Kedopok", [
        ("Jrebeng Kulon", -7.7880, 113.1833),
        ("Jrebeng Lor", -7.7804, 113.1921),
        ("Jrebeng Wetan", -7.7858, 113.2004),
        ("Kareng Lor", -7.7761, 113.1852),
        ("Kedopok", -7.7792, 113.1756),
        ("Sumber Wetan", -7.7921, 113.1915),
    ]),
    "mayangan": ("Mayangan", [
        ("Jati", -7.7481, 113.2123),
        ("Mangunharjo", -7.7423, 113.2067),
        ("Mayangan", -7.7355, 113.2220),
        ("Sukabumi", -7.7484, 113.2047),
        ("Wiroborang", -7.7398, 113.2140),
    ]),
    "wonoasih": ("Wonoasih", [
        ("Jrebeng Kidul", -7.8005, 113.2073),
        ("Kedungasem", -7.7893, 113.2252),
        ("Kedunggaleng", -7.7955, 113.2160),
        ("Pakistaji", -7.8088, 113.2215),
        ("Sumbertaman", -7.7780, 113.2161),
        ("Wonoasih", -7.7850, 113.2105),
    ]),
}

AGENCIES: Final = [
    # (code, name, kind)
    ("pemkot", "Pemerintah Kota Probolinggo", "pemkot"),
    ("satpolpp", "Satpol PP Kota Probolinggo", "satpolpp"),
    ("dishub", "Dinas Perhubungan Kota Probolinggo", "dishub"),
    ("psc119", "PSC 119 Kota Probolinggo", "psc119"),
    ("rsud-saleh", "RSUD dr. Mohamad Saleh", "hospital"),
    ("rsud-arrozy", "RSUD Ar-Rozy", "hospital"),
]

# (code, name, class, agency, kelurahan, address, lat, lon, capabilities, beds{cat: (total, free)})
HOSPITALS: Final = [
    (
        "rsud-saleh", "RSUD dr. Mohamad Saleh", "B", "rsud-saleh", "Sukabumi",
        "Jl. Mayjend Panjaitan No. 65", -7.7530, 113.2104,
        ["igd", "icu", "trauma", "surgery", "cardiac", "stroke", "obstetric", "paediatric",
         "burns", "internal", "nicu"],
        {"IGD": (20, 2), "ICU": (10, 0), "UMUM": (150, 6), "VK": (10, 1), "ANAK": (25, 2),
         "NICU": (5, 0)},
    ),
    (
        "rsud-arrozy", "RSUD Ar-Rozy", "C", "rsud-arrozy", "Kareng Lor",
        "Jl. Prof. Hamka, Kareng Lor", -7.7770, 113.1869,
        ["igd", "surgery", "obstetric", "paediatric", "internal"],
        {"IGD": (12, 4), "ICU": (4, 1), "UMUM": (70, 12), "VK": (8, 3), "ANAK": (14, 5)},
    ),
]

TALKGROUPS: Final = [
    # (code, name, agencies)
    ("satpolpp", "Satpol PP", ["satpolpp"]),
    ("dishub", "Dishub", ["dishub"]),
    ("gabungan", "Gabungan", ["satpolpp", "dishub"]),
    ("psc119", "PSC 119", ["psc119"]),
]

DEMO_PASSWORD: Final = "demo"

USERS: Final = [
    # (username, display name, role, agency, unit callsign, phone)
    ("admin", "Administrator", "admin", "pemkot", None, None),
    ("dispatcher1", "Dispatcher PSC 119", "dispatcher", "psc119", None, None),
    ("satpol1", "Satpol PP Regu 1", "officer", "satpolpp", "SATPOL-01", "+6281200020001"),
    ("satpol2", "Satpol PP Regu 2", "officer", "satpolpp", "SATPOL-02", "+6281200020002"),
    ("dishub1", "Dishub Lantas 1", "officer", "dishub", "DISHUB-01", "+6281200030001"),
    ("dishub2", "Dishub Lantas 2", "officer", "dishub", "DISHUB-02", "+6281200030002"),
    ("rsud-saleh", "IGD RSUD dr. Mohamad Saleh", "hospital", "rsud-saleh", None, None),
]

# The ambulance of each kecamatan's namesake kelurahan is equipped for advanced life
# support; the others are basic. One fictitious crew phone per ambulance.
ALS_KELURAHAN: Final = {"Kademangan", "Kanigaran", "Kedopok", "Mayangan", "Wonoasih"}


def slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def ambulance_callsign(kelurahan: str) -> str:
    return "AMB-" + slug(kelurahan).upper()


def crew_phone(index: int) -> str:
    return f"+62812000{10001 + index:05d}"
