"""GSM-7 arithmetic and the dispatch / pre-arrival SMS composers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.domain import Complaint, Triage, UnitType
from dispatch.sms_text import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_LINK,
    REPLY_CODES,
    compose_dispatch_sms,
    compose_prearrival_sms,
    is_gsm7,
    map_link,
    septets,
    sms_parts,
    to_gsm7,
    truncate,
)
from dispatch.travel import LatLon

SCENE = LatLon(-7.754321, 113.215678)
LINK = "https://siaga.example/s/Ab3dE9xK"
NUMBER = "PSC-20261128-0007"


class TestGsm7:
    def test_basic_set_and_extension_table_sizes(self) -> None:
        # 128 code points less ESC; 9 extension characters plus form feed.
        assert len(GSM7_BASIC) == 127 and len(GSM7_EXTENSION) == 10

    def test_indonesian_text_is_gsm7(self) -> None:
        assert is_gsm7("Kecelakaan di Jl. Panglima Sudirman No. 5, RT 02/RW 03 (depan toko)")

    @pytest.mark.parametrize("text", ["“kutip”", "a–b", "café ☕", "`", "ç"])
    def test_non_gsm7(self, text: str) -> None:
        assert not is_gsm7(text)

    def test_extension_characters_cost_two_septets(self) -> None:
        assert septets("abc") == 3
        assert septets("€[]") == 6
        with pytest.raises(ValueError):
            septets("ă")

    @pytest.mark.parametrize(
        ("text", "parts"),
        [("", 1), ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
         ("€" * 80, 1), ("€" * 81, 2),
         # An escape pair is never split: 152 + 2 + 152 septets is 306 but needs 3 parts.
         ("a" * 152 + "€" + "a" * 152, 3),
         ("ă" * 70, 1), ("ă" * 71, 2), ("ă" * 134, 2), ("ă" * 135, 3)],
    )
    def test_parts(self, text: str, parts: int) -> None:
        assert sms_parts(text) == parts

    @pytest.mark.parametrize(
        ("text", "expected"),
        [("“Awas” – jalan licin…", '"Awas" - jalan licin...'),
         ("São Paulo ąę", "Sao Paulo ae"),
         ("Jl.\u00a0Mastrip", "Jl. Mastrip"),
         ("TD ±120", "TD +/-120"),
         ("pasien 😀", "pasien ?"),
         ("héllo Ñ", "héllo Ñ")],
    )
    def test_transliteration(self, text: str, expected: str) -> None:
        assert to_gsm7(text) == expected

    @given(st.text())
    def test_transliteration_always_yields_gsm7(self, text: str) -> None:
        assert is_gsm7(to_gsm7(text))

    @given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION)))
    def test_gsm7_text_is_left_alone(self, text: str) -> None:
        assert to_gsm7(text) == text

    @given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION)), st.integers(0, 200))
    def test_truncate_respects_the_limit(self, text: str, limit: int) -> None:
        cut = truncate(text, limit)
        assert septets(cut) <= limit
        if septets(text) <= limit:
            assert cut == text
        elif cut:
            assert cut.endswith("..")

    def test_truncate_prefers_a_word_boundary(self) -> None:
        assert truncate("Jl. Panglima Sudirman nomor lima", 24) == "Jl. Panglima Sudirman.."


def dispatch_sms(**overrides: object) -> str:
    args: dict[str, object] = dict(
        number=NUMBER, triage=Triage.MERAH, complaint=Complaint.TRAUMA,
        address="Jl. Panglima Sudirman No. 5", kelurahan="Mayangan", scene=SCENE, link=LINK,
        hospital="RSUD dr. Mohamad Saleh", notes="2 korban, 1 tidak sadar")
    args.update(overrides)
    return compose_dispatch_sms(**args)  # type: ignore[arg-type]


class TestDispatchSms:
    def test_everything_the_crew_needs(self) -> None:
        assert dispatch_sms().split("\n") == [
            "PSC-20261128-0007 MERAH Kecelakaan/trauma",
            "Jl. Panglima Sudirman No. 5, Kel. Mayangan",
            "Ket: 2 korban, 1 tidak sadar",
            "Peta: https://maps.google.com/?q=-7.75432,113.21568",
            "RS: RSUD dr. Mohamad Saleh",
            REPLY_CODES,
            f"Lapor: {LINK}",
        ]

    def test_no_hospital_and_no_notes_leave_no_empty_lines(self) -> None:
        text = dispatch_sms(hospital=None, notes="")
        assert "RS:" not in text and "Ket:" not in text and "\n\n" not in text

    def test_missing_address_points_to_the_map(self) -> None:
        assert dispatch_sms(address="", kelurahan="").split("\n")[1] == "Lokasi: lihat peta"
        assert dispatch_sms(address=" ", kelurahan="Jati").split("\n")[1] == "Kel. Jati"

    def test_long_address_is_cut_and_kelurahan_kept(self) -> None:
        address = "Jl. Soekarno-Hatta No. 12, RT 02/RW 03, gang sebelah masjid, " * 20
        text = dispatch_sms(address=address, notes="")
        line = text.split("\n")[1]
        assert line.startswith("Jl. Soekarno-Hatta No. 12") and ".., Kel. Mayangan" in line
        assert sms_parts(text) == 2 and is_gsm7(text)

    def test_short_notes_survive_a_long_address(self) -> None:
        text = dispatch_sms(address="Perumahan Griya Asri blok C " * 30, notes="korban terjepit")
        assert "Ket: korban terjepit\n" in text and sms_parts(text) <= 2

    def test_long_notes_and_address_share_the_room(self) -> None:
        text = dispatch_sms(address="Jl. Raya Bromo " * 30, notes="pasien sesak berat " * 30)
        assert sms_parts(text) <= 2
        address, notes = text.split("\n")[1:3]
        assert "Jl. Raya Bromo" in address and notes.startswith("Ket: pasien sesak")

    def test_non_gsm_input_is_transliterated(self) -> None:
        text = dispatch_sms(address="Jl. “Merdeka” – dekat café", kelurahan="Kanigaran")
        assert 'Jl. "Merdeka" - dekat café, Kel. Kanigaran' in text and is_gsm7(text)

    def test_a_fixed_part_that_cannot_fit_is_refused(self) -> None:
        with pytest.raises(ValueError, match="does not fit"):
            dispatch_sms(number="PSC-" + "9" * 300)

    def test_link_too_long_is_refused(self) -> None:
        with pytest.raises(ValueError):
            dispatch_sms(link="https://siaga.example/s/" + "x" * MAX_LINK)

    @given(
        address=st.text(max_size=600), notes=st.text(max_size=400),
        kelurahan=st.text(max_size=60), hospital=st.none() | st.text(max_size=120),
        link=st.from_regex(r"https://[a-z0-9.]{1,20}/[A-Za-z0-9_~-]{1,30}", fullmatch=True),
        triage=st.sampled_from(Triage), complaint=st.sampled_from(Complaint),
        lat=st.floats(-90, 90), lon=st.floats(-180, 180),
    )
    def test_always_gsm7_in_at_most_two_parts(self, address, notes, kelurahan, hospital, link,
                                              triage, complaint, lat, lon) -> None:
        text = compose_dispatch_sms(number=NUMBER, triage=triage, complaint=complaint,
                                    address=address, kelurahan=kelurahan,
                                    scene=LatLon(lat, lon), link=link, hospital=hospital,
                                    notes=notes)
        assert is_gsm7(text) and sms_parts(text) <= 2
        for fixed in (NUMBER, triage.name, REPLY_CODES, f"Lapor: {link}",
                      map_link(LatLon(lat, lon))):
            assert fixed in text


class TestPrearrivalSms:
    def test_content_and_time_in_wib(self) -> None:
        text = compose_prearrival_sms(
            number=NUMBER, triage=Triage.MERAH, complaint=Complaint.CARDIAC,
            unit="AMB-KANIGARAN", unit_type=UnitType.ALS,
            eta=datetime(2026, 11, 28, 2, 41, tzinfo=UTC), patients=1,
            notes="Laki-laki 50 th, nyeri dada", link="https://siaga.example/h/Zx81")
        assert text.split("\n") == [
            "PSC 119 pra-RS PSC-20261128-0007",
            "MERAH Jantung, 1 pasien",
            "Ket: Laki-laki 50 th, nyeri dada",
            "Unit AMB-KANIGARAN (ALS), tiba ~09:41 WIB",
            "Konfirmasi: https://siaga.example/h/Zx81",
        ]

    def test_naive_eta_is_refused(self) -> None:
        with pytest.raises(ValueError):
            compose_prearrival_sms(number=NUMBER, triage=Triage.KUNING,
                                   complaint=Complaint.OTHER, unit="AMB-JATI",
                                   unit_type=UnitType.BLS, eta=datetime(2026, 11, 28, 2, 41))

    @given(notes=st.text(max_size=800), unit=st.text(max_size=60),
           patients=st.integers(1, 99), with_eta=st.booleans())
    def test_always_gsm7_in_at_most_two_parts(self, notes, unit, patients, with_eta) -> None:
        eta = datetime(2026, 11, 28, 2, 41, tzinfo=UTC) if with_eta else None
        text = compose_prearrival_sms(number=NUMBER, triage=Triage.MERAH,
                                      complaint=Complaint.OBSTETRIC, unit=unit,
                                      unit_type=UnitType.BLS, eta=eta, patients=patients,
                                      notes=notes, link=LINK)
        assert is_gsm7(text) and sms_parts(text) <= 2
        assert NUMBER in text and f"Konfirmasi: {LINK}" in text
